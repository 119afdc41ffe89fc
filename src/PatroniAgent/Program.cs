using PatroniAgent.Commands;

namespace PatroniAgent;

public static class Program
{
    public static int Main(string[] args) => CommandTable.Run(args, CommandContext.OfProcess());
}
