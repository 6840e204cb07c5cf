using Lectures.Grains.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A headless silo: adds capacity to the cluster. Same Orleans configuration as the API silo.
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.AddFilter("Polly", LogLevel.Warning);
using var startupLog = LoggerFactory.Create(l => l.AddConsole());
builder.UseOrleans(silo => silo.ConfigureProductSilo(builder.Configuration, startupLog.CreateLogger("Silo")));
await builder.Build().RunBoundedAsync();
