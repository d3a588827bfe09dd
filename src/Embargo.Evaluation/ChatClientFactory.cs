using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Embargo.Evaluation;

/// <summary>Creates a Microsoft.Extensions.AI chat client for an endpoint (e.g. the reference model for threat-model drafting).</summary>
public static class ChatClientFactory
{
    public static IChatClient Create(ModelEndpoint endpoint) =>
        new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(endpoint.ApiKey) ? "unused" : endpoint.ApiKey),
                new OpenAIClientOptions { Endpoint = endpoint.Url })
            .GetChatClient(endpoint.Name).AsIChatClient();
}
