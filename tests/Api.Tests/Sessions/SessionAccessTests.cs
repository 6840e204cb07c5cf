using System.Net;
using Lectures.Api.Tests.Infrastructure;

namespace Lectures.Api.Tests.Sessions;

public sealed class SessionAccessTests
{
    [Fact]
    public async Task A_user_key_reaches_only_its_own_session_and_a_client_key_none()
    {
        const string aliceKey = "user-key-of-alice-0001";
        const string clientKey = "client-key-0000000001";
        await using var host = await HostProcess.StartApiAsync(new Dictionary<string, string?>
        {
            ["Auth:Keys:0:Key"] = aliceKey, ["Auth:Keys:0:Role"] = "user", ["Auth:Keys:0:Subject"] = "alice",
            ["Auth:Keys:1:Key"] = clientKey, ["Auth:Keys:1:Role"] = "client",
        });

        Task<HttpResponseMessage> Send(string user, string? key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{user}/messages?wait=false") { Content = HttpAssertions.Json("""{"text":"hi"}""") };
            if (key is not null)
            {
                request.Headers.Add("X-Api-Key", key);
            }

            return host.Http.SendAsync(request);
        }

        await (await Send("alice", aliceKey)).Expect(HttpStatusCode.Accepted);
        await (await Send("bob", aliceKey)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send("alice", clientKey)).ExpectProblem(HttpStatusCode.Forbidden, "forbidden");
        await (await Send("alice", null)).ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
    }
}
