using System.Collections;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting.Systemd;
using PatroniAgent.HaproxyConfig;
using PatroniAgent.Hosting;

namespace PatroniAgent;

public static class Program
{
    public static int Main(string[] args)
    {
        var environment = Environment.GetEnvironmentVariables()
            .Cast<DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
        switch (args)
        {
            case [HaproxyConfigCommand.Name, ..]:
                return HaproxyConfigCommand.Run(args[1..], Console.Out, Console.Error);
            case ["manpage"]:
                Console.Out.Write(ManPage.Render(Version));
                return 0;
            case ["completion", "bash"]:
                Console.Out.Write(BashCompletion.Render());
                return 0;
            case ["manpage" or "completion", ..]:
                var usage = ConfigLoader.Commands.Single(c => c.Name == args[0]);
                Console.Error.WriteLine($"patroni-agent: usage: patroni-agent {usage.Name} {usage.Arguments}".TrimEnd());
                return 2;
        }

        CommandLine command;
        try
        {
            command = ConfigLoader.Parse(args, environment, File.ReadAllText);
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"patroni-agent: {e.Message}");
            Console.Error.WriteLine("Try 'patroni-agent --help'.");
            return 2;
        }

        switch (command.Command)
        {
            case Command.Help:
                Console.Out.Write(ConfigLoader.HelpText);
                return 0;
            case Command.Version:
                Console.Out.WriteLine($"patroni-agent {Version}");
                return 0;
            case Command.Check:
                return CheckCommand.Run(command.Options, Console.Out);
            case Command.Notify:
                return ControlCommand.Notify(command.Options, Console.Error);
            case Command.Callbacks:
                return ControlCommand.Callbacks(command.Options, Environment.ProcessPath ?? "patroni-agent", Console.Out);
            case Command.Drain or Command.Maint or Command.Ready:
                return ControlCommand.SetOverride(command.Options, command.Command, command.Reason, Console.Out, Console.Error);
        }

        var logLevel = new LogLevelSwitch(command.Options.LogLevel);
        using var loggers = Logging.Create(logLevel, command.Options.LogFormat, environment);
        try
        {
            using var host = new AgentHost(command.Options, loggers, new SystemdNotifier(),
                () => ConfigLoader.Parse(args, environment, File.ReadAllText).Options, logLevel);
            return host.RunUntilSignalled();
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"patroni-agent: {e.Message}");
            return 1;
        }
    }

    public static string Version =>
        typeof(Program).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>()
            .FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "unknown";
}
