using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Lectures;

[Collection(ApiCollection.Name)]
public sealed class LectureApiTests(ApiFixture api)
{
    private HttpClient Http => api.Http;

    public static object Definition(string title = "Cardiology 101") => new
    {
        title,
        topics = new object[]
        {
            new { topicId = "heart", title = "The heart", contents = new[] { "Atria", "Ventricles", "Valves" }, timeList = new[] { 10.0, 12.5, 8 } },
            new { topicId = "ecg", title = "ECG", contents = new[] { "P wave", "QRS" }, timeList = new[] { 5.0, 6 } },
        },
    };

    private async Task<string> NewLecture()
    {
        var lectureId = Ids.New("lecture");
        await (await Http.PutAsJsonAsync($"/api/lectures/{lectureId}", Definition())).Expect(HttpStatusCode.OK);
        return lectureId;
    }

    private Task<HttpResponseMessage> Start(string lectureId, string robotId, string topicId = "heart", string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/lectures/{lectureId}/robots/{robotId}/sessions")
        {
            Content = JsonContent.Create(new { topicId, language = "en" }),
        };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return Http.SendAsync(request);
    }

    private Task<HttpResponseMessage> Command(string lectureId, string robotId, string command) =>
        Http.PostJson($"/api/lectures/{lectureId}/robots/{robotId}/commands", new { command });

    [Fact]
    public async Task A_lecture_is_defined_versioned_and_lists_the_robots_that_run_it()
    {
        var lectureId = Ids.New("lecture");
        var put = await (await Http.PutAsJsonAsync($"/api/lectures/{lectureId}", Definition())).Expect(HttpStatusCode.OK);
        Assert.Equal(1, put.GetProperty("version").GetInt64());
        var again = await (await Http.PutAsJsonAsync($"/api/lectures/{lectureId}", Definition("Renamed"))).Expect(HttpStatusCode.OK);
        Assert.Equal(2, again.GetProperty("version").GetInt64());

        await (await Start(lectureId, "robot-b")).Expect(HttpStatusCode.Created);
        await (await Start(lectureId, "robot-a")).Expect(HttpStatusCode.Created);
        var lecture = await (await Http.GetAsync($"/api/lectures/{lectureId}")).Expect(HttpStatusCode.OK);
        Assert.Equal("Renamed", lecture.GetProperty("title").GetString());
        Assert.Equal(["robot-a", "robot-b"], lecture.GetProperty("robots").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal([10.0, 12.5, 8], lecture.GetProperty("topics")[0].GetProperty("timeList").EnumerateArray().Select(t => t.GetDouble()));
    }

    [Fact]
    public async Task Sixty_concurrent_starts_over_five_robots_are_all_stored_over_HTTP()
    {
        var lectureId = await NewLecture();
        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Start(lectureId, $"robot-{i % 5}", i % 2 == 0 ? "heart" : "ecg")));
        var created = new List<JsonElement>();
        foreach (var response in responses)
        {
            created.Add(await response.Expect(HttpStatusCode.Created));
        }

        var stored = new List<JsonElement>();
        for (var r = 0; r < 5; r++)
        {
            var run = await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot-{r}")).Expect(HttpStatusCode.OK);
            foreach (var summary in run.GetProperty("sessions").EnumerateArray())
            {
                stored.Add(await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot-{r}/sessions/{Id(summary)}")).Expect(HttpStatusCode.OK));
            }
        }

        Assert.Equal(created.Select(Id).Order(), stored.Select(Id).Order());
        Assert.All(stored, s => Assert.Equal(s.GetProperty("topicId").GetString() == "heart" ? 3 : 2, s.GetProperty("contents").GetArrayLength()));
        var lecture = await (await Http.GetAsync($"/api/lectures/{lectureId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(5, lecture.GetProperty("robots").GetArrayLength());

        static string Id(JsonElement s) => s.GetProperty("sessionId").GetString()!;
    }

    [Fact]
    public async Task Sixteen_concurrent_starts_with_one_Idempotency_Key_make_one_session()
    {
        var lectureId = await NewLecture();
        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Start(lectureId, "robot", key: "retry-1")));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(15, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var ids = new HashSet<string>();
        foreach (var response in responses)
        {
            ids.Add((await response.Body()).GetProperty("sessionId").GetString()!);
        }

        Assert.Single(ids);
        var run = await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot")).Expect(HttpStatusCode.OK);
        Assert.Equal(1, run.GetProperty("sessions").GetArrayLength());
    }

    [Fact]
    public async Task The_run_follows_the_state_machine_and_refuses_invalid_transitions_with_state_and_command()
    {
        var lectureId = await NewLecture();
        var session = await (await Start(lectureId, "robot")).Expect(HttpStatusCode.Created);
        Assert.True(session.GetProperty("isActive").GetBoolean());

        Assert.Equal("paused", (await (await Command(lectureId, "robot", "pause")).Expect(HttpStatusCode.OK)).GetProperty("state").GetString());
        var refused = await (await Command(lectureId, "robot", "advance")).ExpectProblem(HttpStatusCode.Conflict, "lecture.invalid_transition");
        Assert.Equal("paused", refused.GetProperty("state").GetString());
        Assert.Equal("advance", refused.GetProperty("command").GetString());

        await (await Command(lectureId, "robot", "resume")).Expect(HttpStatusCode.OK);
        await (await Command(lectureId, "robot", "question")).Expect(HttpStatusCode.OK);
        Assert.Equal("qna", (await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot")).Expect(HttpStatusCode.OK)).GetProperty("state").GetString());
        await (await Command(lectureId, "robot", "answer")).Expect(HttpStatusCode.OK);
        await (await Command(lectureId, "robot", "advance")).Expect(HttpStatusCode.OK);
        await (await Command(lectureId, "robot", "advance")).Expect(HttpStatusCode.OK);
        var ended = await (await Command(lectureId, "robot", "advance")).Expect(HttpStatusCode.OK);
        Assert.Equal("ended", ended.GetProperty("state").GetString());
        await (await Command(lectureId, "robot", "end")).ExpectProblem(HttpStatusCode.Conflict, "lecture.invalid_transition");

        await (await Start(lectureId, "robot", "ecg")).Expect(HttpStatusCode.Created);
        var restarted = await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot")).Expect(HttpStatusCode.OK);
        Assert.Equal(("presenting", "ecg", 0), (restarted.GetProperty("state").GetString(), restarted.GetProperty("topicId").GetString(), restarted.GetProperty("position").GetInt32()));
    }

    [Fact]
    public async Task A_command_with_a_stale_If_Match_gets_412()
    {
        var lectureId = await NewLecture();
        await (await Start(lectureId, "robot")).Expect(HttpStatusCode.Created);
        var etag = (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot")).Headers.ETag!;
        await (await Command(lectureId, "robot", "advance")).Expect(HttpStatusCode.OK);

        using var stale = new HttpRequestMessage(HttpMethod.Post, $"/api/lectures/{lectureId}/robots/robot/commands") { Content = JsonContent.Create(new { command = "pause" }) };
        stale.Headers.IfMatch.Add(etag);
        await (await Http.SendAsync(stale)).ExpectProblem(HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal("presenting", (await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot")).Expect(HttpStatusCode.OK)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Ending_a_session_keeps_it_as_inactive_and_edits_never_reach_a_running_session()
    {
        var lectureId = await NewLecture();
        var session = await (await Start(lectureId, "robot")).Expect(HttpStatusCode.Created);
        var path = $"/api/lectures/{lectureId}/robots/robot/sessions/{session.GetProperty("sessionId").GetString()}";

        var edited = new { title = "v2", topics = new[] { new { topicId = "heart", title = "new", contents = new[] { "changed" }, timeList = new[] { 1.0 } } } };
        await (await Http.PutAsJsonAsync($"/api/lectures/{lectureId}", edited)).Expect(HttpStatusCode.OK);
        var read = await (await Http.GetAsync(path)).Expect(HttpStatusCode.OK);
        Assert.Equal(["Atria", "Ventricles", "Valves"], read.GetProperty("contents").EnumerateArray().Select(c => c.GetString()));

        var ended = await (await Http.DeleteAsync(path)).Expect(HttpStatusCode.OK);
        Assert.False(ended.GetProperty("isActive").GetBoolean());
        Assert.False((await (await Http.GetAsync(path)).Expect(HttpStatusCode.OK)).GetProperty("isActive").GetBoolean());
    }

    [Fact]
    public async Task Unknown_things_are_404_with_the_right_code()
    {
        await (await Http.GetAsync($"/api/lectures/{Ids.New("none")}")).ExpectProblem(HttpStatusCode.NotFound, "lecture.not_found");
        await (await Start(Ids.New("none"), "robot")).ExpectProblem(HttpStatusCode.NotFound, "lecture.not_found");
        var lectureId = await NewLecture();
        await (await Start(lectureId, "robot", "no-such-topic")).ExpectProblem(HttpStatusCode.NotFound, "lecture.topic_not_found");
        await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot")).ExpectProblem(HttpStatusCode.NotFound, "lecture.run_not_found");
        await (await Command(lectureId, "robot", "pause")).ExpectProblem(HttpStatusCode.NotFound, "lecture.run_not_found");
        await (await Start(lectureId, "robot")).Expect(HttpStatusCode.Created);
        await (await Http.GetAsync($"/api/lectures/{lectureId}/robots/robot/sessions/nope")).ExpectProblem(HttpStatusCode.NotFound, "lecture.session_not_found");
        await (await Http.DeleteAsync($"/api/lectures/{lectureId}/robots/robot/sessions/nope")).ExpectProblem(HttpStatusCode.NotFound, "lecture.session_not_found");
    }

    public static TheoryData<string> InvalidDefinitions => new()
    {
        """{"topics":[{"topicId":"a","contents":["x"],"timeList":[1]}]}""",
        """{"title":"t","topics":[]}""",
        """{"title":"t"}""",
        """{"title":"t","topics":[{"topicId":"a","contents":["x","y"],"timeList":[1]}]}""",
        """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":[0]}]}""",
        """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":[-3]}]}""",
        """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":[1]},{"topicId":"a","contents":["y"],"timeList":[1]}]}""",
        """{"title":"t","topics":[{"topicId":"../a","contents":["x"],"timeList":[1]}]}""",
        """{"title":"t","topics":[{"topicId":"a","contents":[""],"timeList":[1]}]}""",
        """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":[null]}]}""",
        """{"title":"t","topics":[{"topicId":"a","contents":["x"],"timeList":["1"]}]}""",
        """{"title":"t","topics":[null]}""",
        """{"title":"t","topics":{"topicId":"a"}}""",
    };

    [Theory]
    [MemberData(nameof(InvalidDefinitions))]
    public async Task Invalid_definitions_are_refused_and_change_nothing(string body)
    {
        var lectureId = await NewLecture();
        await (await Http.PutAsync($"/api/lectures/{lectureId}", HttpAssertions.Json(body))).ExpectProblem(HttpStatusCode.BadRequest, "validation");
        var lecture = await (await Http.GetAsync($"/api/lectures/{lectureId}")).Expect(HttpStatusCode.OK);
        Assert.Equal(1, lecture.GetProperty("version").GetInt64());
    }

    [Theory]
    [InlineData("""{"command":"jump"}""")]
    [InlineData("""{"command":"start"}""")]
    [InlineData("""{"command":"3"}""")]
    [InlineData("""{"command":"pause,resume"}""")]
    [InlineData("""{"command":"advance, end"}""")]
    [InlineData("""{"command":"Pause"}""")]
    [InlineData("""{"command":""}""")]
    [InlineData("""{}""")]
    [InlineData("""{"command":5}""")]
    public async Task Unknown_commands_are_400(string body)
    {
        var lectureId = await NewLecture();
        await (await Start(lectureId, "robot")).Expect(HttpStatusCode.Created);
        await (await Http.PostAsync($"/api/lectures/{lectureId}/robots/robot/commands", HttpAssertions.Json(body))).ExpectProblem(HttpStatusCode.BadRequest, "validation");
    }

    [Fact]
    public async Task The_event_stream_reports_sessions_and_states_and_resumes_with_Last_Event_ID()
    {
        var lectureId = await NewLecture();
        await (await Start(lectureId, "robot")).Expect(HttpStatusCode.Created);
        var path = $"/api/lectures/{lectureId}/robots/robot/events";
        var snapshot = await Http.ReadEventsAsync(path, null, _ => true, TimeSpan.FromSeconds(10));
        Assert.Equal("state", snapshot[0].Type);

        await (await Command(lectureId, "robot", "pause")).Expect(HttpStatusCode.OK);
        await (await Start(lectureId, "robot", "ecg")).Expect(HttpStatusCode.Created);
        await (await Command(lectureId, "robot", "resume")).Expect(HttpStatusCode.OK);

        var resumed = await Http.ReadEventsAsync(path, snapshot[0].Id, e => e.Type == "state" && e.Data.GetProperty("state").GetString() == "presenting", TimeSpan.FromSeconds(10));
        Assert.Equal(["state", "session", "state"], resumed.Select(e => e.Type));
        Assert.Equal("paused", resumed[0].Data.GetProperty("state").GetString());
        Assert.Equal("ecg", resumed[1].Data.GetProperty("topicId").GetString());
        Assert.Equal(2, resumed[2].Data.GetProperty("sessions").GetArrayLength());
    }
}
