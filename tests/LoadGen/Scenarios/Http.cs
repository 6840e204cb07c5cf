using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace LoadGen.Scenarios;

internal static class Http
{
    public static async Task<int> PostAsync(this HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(path, content);
        await response.Content.LoadIntoBufferAsync();
        return (int)response.StatusCode;
    }

    public static async Task<(int Status, JsonElement Body)> PostReadAsync(this HttpClient http, string path, string json, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add(name, value);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public static async Task<JsonElement> GetJsonAsync(this HttpClient http, string path) =>
        await http.GetFromJsonAsync<JsonElement>(path);

    /// <summary>Prepares entities with bounded parallelism; any failure stops the run (nothing to measure).</summary>
    public static async Task ForEachAsync(int count, Func<int, Task<int>> action, params int[] accepted)
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            var status = await action(i);
            if (!accepted.Contains(status))
            {
                throw new InvalidOperationException($"preparing entity {i} answered {status}");
            }
        });
    }
}
