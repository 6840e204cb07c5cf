using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenAI;

namespace Lectures.Grains.Ai;

/// <summary>Registers each feature's <see cref="IChatClient"/> as a keyed service built from its validated options.</summary>
public static class ChatClients
{
    /// <summary>Adds the <see cref="IChatClient"/> keyed <paramref name="key"/> that <typeparamref name="TOptions"/> describes.</summary>
    public static IServiceCollection AddResponder<TOptions>(this IServiceCollection services, string key)
        where TOptions : ResponderOptions
    {
        services.AddKeyedSingleton<IChatClient>(key, (sp, _) => Create(sp.GetRequiredService<IOptions<TOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    public static IChatClient Create(ResponderOptions options, TimeProvider clock)
    {
        if (options.Responder == ResponderKind.Builtin)
        {
            return new BuiltinChatClient(options.BuiltinLatency, clock);
        }

        var client = new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey), new OpenAIClientOptions
        {
            Endpoint = options.Endpoint,
            // The callers own retries and timeouts (a reply has a deadline and can be cancelled); no hidden retries.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        });
        return client.GetChatClient(options.Model).AsIChatClient();
    }
}
