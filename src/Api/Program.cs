using Lectures.Api.Infrastructure;
using Lectures.Api.Jobs;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddApiSilo();

var app = builder.Build();
app.UseApiPipeline();
app.MapOperations();
app.MapJobApi();
app.Run();

public partial class Program;
