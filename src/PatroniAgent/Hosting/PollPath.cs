using Microsoft.Extensions.Logging;
using PatroniAgent.Answers;
using PatroniAgent.Configuration;
using PatroniAgent.Patroni;
using PatroniAgent.Watcher;

namespace PatroniAgent.Hosting;

/// <summary>
/// The poll side of the agent built from the options, the same for <c>run</c> and <c>check</c>: Patroni's
/// client, the board of answers and the watcher that fills it.
/// </summary>
public sealed record PollPath(PatroniClient Client, AnswerBoard Board, RoleWatcher Watcher)
{
    /// <param name="options">The merged configuration.</param>
    /// <param name="staleAfter">How long the last answer serves when polls fail (<c>check</c> polls once, and gives zero).</param>
    /// <param name="logger">Where the watcher logs.</param>
    public static PollPath Build(AgentOptions options, TimeSpan staleAfter, ILogger logger)
    {
        var client = ClientOf(options);
        var board = new AnswerBoard(options.UnknownAnswer, options.StaleAfter);
        return new PollPath(client, board, new RoleWatcher(client, board, options.PollInterval, staleAfter, logger));
    }

    /// <summary>A client of the Patroni REST API the options name, with their timeout and access files.</summary>
    public static PatroniClient ClientOf(AgentOptions options) => new(options.PatroniUrl, options.Timeout, access: options.PatroniAccess);
}
