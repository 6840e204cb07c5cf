using Lectures.Api.Infrastructure;
using Lectures.Api.Jobs;
using Lectures.Api.Lectures;
using Lectures.Api.Sessions;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddApiSilo();

var app = builder.Build();
app.UseApiPipeline();
app.MapOperations();
app.MapJobApi();
app.MapLectureApi();
app.MapSessionApi();
app.Run();

public partial class Program;
