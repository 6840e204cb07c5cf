namespace Lectures.Cluster.Tests.Infrastructure;

/// <summary>Needs redis-server: skipped with a reason only when it is absent and this is not CI (under CI=true that fails).</summary>
public sealed class FaultFactAttribute : FactAttribute
{
    public FaultFactAttribute()
    {
        if (AofRedis.Binary is null && !AofRedis.IsCi)
        {
            Skip = "redis-server is not installed (apt-get install -y redis-server); under CI=true this is a failure instead.";
        }
    }
}
