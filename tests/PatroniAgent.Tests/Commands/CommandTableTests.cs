using PatroniAgent.Commands;
using PatroniAgent.Hosting;

namespace PatroniAgent.Tests.Commands;

public class CommandTableTests
{
    private static (int Status, string Out, string Error) Run(string[] args, Dictionary<string, string>? env = null)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int status = CommandTable.Run(args, new CommandContext(env ?? [], output, error,
            _ => throw new InvalidOperationException("the config file must not be read")));
        return (status, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData(new string[0], "run", new string[0])]
    [InlineData(new[] { "run" }, "run", new string[0])]
    [InlineData(new[] { "check" }, "check", new string[0])]
    [InlineData(new[] { "--workers", "2" }, "run", new[] { "--workers", "2" })]
    [InlineData(new[] { "check", "--workers", "2" }, "check", new[] { "--workers", "2" })]
    [InlineData(new[] { "haproxy-config", "--member", "pg1=10.0.0.1" }, "haproxy-config", new[] { "--member", "pg1=10.0.0.1" })]
    public void The_command_is_the_first_word_and_defaults_to_run(string[] args, string name, string[] arguments)
    {
        var (command, rest) = CommandTable.Find(args);

        Assert.Equal(name, command?.Help.Name);
        Assert.Equal(arguments, rest);
    }

    [Fact]
    public void Every_command_has_one_entry_and_the_agent_commands_take_the_agent_options()
    {
        Assert.Equal(["run", "check", "notify", "callbacks", "drain", "maint", "ready", "haproxy-config", "manpage", "completion"],
            CommandTable.All.Select(c => c.Help.Name));
        Assert.Equal(["run", "check", "notify", "callbacks", "drain", "maint", "ready"],
            CommandTable.All.Where(c => c.Rules is not null).Select(c => c.Help.Name));
        Assert.Equal(["run", "check"], CommandTable.All.Where(c => c.Rules is { LoadsPatroniAccess: true }).Select(c => c.Help.Name));
        Assert.Equal(["drain", "maint"], CommandTable.All.Where(c => c.Rules is { TakesReason: true }).Select(c => c.Help.Name));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("check --poll-interval 5 --help")]
    [InlineData("bogus -h")]
    public void Help_wins_anywhere_in_an_agent_command_without_validation(string line)
    {
        var (status, output, error) = Run(line.Split(' '), new() { ["PATRONI_AGENT_BOGUS"] = "1" });

        Assert.Equal((0, AgentHelp.Text, ""), (status, output, error));
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("run --no-such-flag --version")]
    [InlineData("--version --help")]
    public void Version_wins_anywhere_in_an_agent_command_without_validation(string line)
    {
        var (status, output, error) = Run(line.Split(' '), new() { ["PATRONI_AGENT_BOGUS"] = "1" });

        Assert.Equal((0, $"patroni-agent {AgentVersion.Text}\n", ""), (status, output, error));
    }

    [Fact]
    public void Haproxy_config_has_its_own_help()
    {
        var (status, output, _) = Run(["haproxy-config", "--help"]);

        Assert.Equal((0, HaproxyConfigCommand.HelpText), (status, output));
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("serve")]
    public void An_unknown_command_is_a_usage_error(string command)
    {
        var (status, output, error) = Run([command]);

        Assert.Equal(2, status);
        Assert.Empty(output);
        Assert.Equal($"patroni-agent: unknown command \"{command}\"; the commands are run, check, notify, callbacks, drain, maint, ready, haproxy-config, manpage and completion (see --help)\nTry 'patroni-agent --help'.\n", error);
    }

    [Fact]
    public void A_bad_option_is_a_usage_error_that_names_it()
    {
        var (status, _, error) = Run(["check", "--no-such-flag", "1"]);

        Assert.Equal((2, "patroni-agent: unknown option \"--no-such-flag\" (see --help)\nTry 'patroni-agent --help'.\n"), (status, error));
    }

    [Theory]
    [InlineData(new[] { "manpage", "extra" }, "patroni-agent: usage: patroni-agent manpage\n")]
    [InlineData(new[] { "completion", "zsh" }, "patroni-agent: usage: patroni-agent completion bash\n")]
    public void The_printing_commands_take_exactly_their_arguments(string[] args, string expected)
    {
        var (status, output, error) = Run(args);

        Assert.Equal((2, "", expected), (status, output, error));
    }

    [Fact]
    public void The_printing_commands_print_the_man_page_and_the_completion()
    {
        Assert.Equal((0, ManPage.Render(AgentVersion.Text), ""), Run(["manpage"]));
        Assert.Equal((0, BashCompletion.Render(), ""), Run(["completion", "bash"]));
    }
}
