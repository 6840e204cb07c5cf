using Lectures.Grains.Hosting;
using Lectures.Api.Infrastructure;
using Lectures.Api.Jobs;
using Lectures.Api.Lectures;
using Lectures.Api.Rooms;
using Lectures.Api.Sessions;
using Lectures.Api.Security;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddApiSilo();

var app = builder.Build();
app.UseApiPipeline();
app.MapOperations();
app.MapJobApi();
app.MapLectureApi();
app.MapRoomApi();
app.MapSessionApi();
app.MapStreamTicketApi();
await app.RunBoundedAsync();

public partial class Program;
