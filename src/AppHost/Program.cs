using Lectures.AppHost;

// A local cluster with one command (dotnet run --project src/AppHost): redis-server, the API silo and two headless
// silos, with the Aspire dashboard showing the logs, traces and metrics of every process. No container runtime needed.
var builder = DistributedApplication.CreateBuilder(args);
builder.AddLocalCluster(headlessSilos: 2);
builder.Build().Run();
