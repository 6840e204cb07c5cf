using System.Net;
using System.Net.Http.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Lectures;

[Collection(RedisCollection.Name)]
public sealed class LectureRedisTests(RedisServer redis)
{
    [RedisFact]
    public async Task Lectures_runs_and_sessions_survive_a_crash_of_the_host()
    {
        var serviceId = Ids.New("lectures");
        var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["Orleans:ServiceId"] = serviceId,
            ["Orleans:ClusterId"] = serviceId,
        });
        var lectureId = Ids.New("lecture");
        await (await host.Http.PutAsJsonAsync($"/api/lectures/{lectureId}", LectureApiTests.Definition())).Expect(HttpStatusCode.OK);
        var session = await (await host.Http.PostJson($"/api/lectures/{lectureId}/robots/r1/sessions", new { topicId = "heart", language = "en" })).Expect(HttpStatusCode.Created);
        await (await host.Http.PostJson($"/api/lectures/{lectureId}/robots/r1/commands", new { command = "advance" })).Expect(HttpStatusCode.OK);
        await (await host.Http.PostJson($"/api/lectures/{lectureId}/robots/r1/commands", new { command = "question" })).Expect(HttpStatusCode.OK);
        host.Kill();
        await host.DisposeAsync();

        await using var restarted = await host.RestartedAsync();
        var run = await (await restarted.Http.GetAsync($"/api/lectures/{lectureId}/robots/r1")).Expect(HttpStatusCode.OK);
        Assert.Equal(("qna", 1), (run.GetProperty("state").GetString(), run.GetProperty("position").GetInt32()));
        var sessionId = session.GetProperty("sessionId").GetString();
        Assert.Equal(sessionId, run.GetProperty("sessions")[0].GetProperty("sessionId").GetString());
        var stored = await (await restarted.Http.GetAsync($"/api/lectures/{lectureId}/robots/r1/sessions/{sessionId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(session.ToString(), stored.ToString());
        var lecture = await (await restarted.Http.GetAsync($"/api/lectures/{lectureId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(["r1"], lecture.GetProperty("robots").EnumerateArray().Select(r => r.GetString()));
    }
}
