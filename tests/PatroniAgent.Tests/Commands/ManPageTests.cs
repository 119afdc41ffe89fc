using PatroniAgent.Commands;
using PatroniAgent.Configuration;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Commands;

/// <summary>patroni-agent(1), built from the tables of --help and read by man as users read it.</summary>
public class ManPageTests
{
    private static string Rendered { get; } = Render(ManPage.Render("9.8.7"));

    /// <summary>The page as <c>man</c> prints it on a wide terminal; man's and groff's warnings fail the test.</summary>
    private static string Render(string roff)
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("patroni-agent-man-").FullName, "patroni-agent.1");
        File.WriteAllText(file, roff);
        var result = PublishedAgent.Run("man", ["--warnings", "-E", "UTF-8", "-l", file], TimeSpan.FromSeconds(30),
            new Dictionary<string, string> { ["MANWIDTH"] = "200", ["LANG"] = "C.UTF-8", ["MANPAGER"] = "cat", ["PAGER"] = "cat" });
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        Assert.True(result.ExitCode == 0, $"man exited {result.ExitCode}: {result.Error}");
        Assert.Equal("", result.Error);
        return result.Output;
    }

    [Fact]
    public void Every_command_of_the_help_is_in_the_synopsis_and_described()
    {
        foreach (CommandHelp command in CommandTable.Help)
        {
            string name = command.Name == "run" ? "[run]" : command.Name;
            Assert.Contains($"patroni-agent {name} {command.Arguments}".TrimEnd(), Rendered);
            Assert.Contains(command.Description.Split(' ')[0], Rendered);
        }
    }

    [Fact]
    public void Every_option_of_the_agent_and_of_haproxy_config_is_there_with_its_default()
    {
        IEnumerable<OptionHelp> all = ConfigLoader.Options.Concat(HaproxyConfigCommand.MemberOptions).Concat(HaproxyConfigCommand.Options);
        string flat = string.Join(' ', Rendered.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
        foreach (OptionHelp option in all)
        {
            Assert.Contains(option.Usage, flat);
            Assert.Contains(option.DescriptionWithDefault, flat);
        }
    }

    [Fact]
    public void Hyphens_print_as_the_ascii_minus_users_can_copy_and_paths_stay_whole()
    {
        Assert.Contains("--poll-interval DURATION", Rendered);
        Assert.Contains("/etc/patroni-agent/patroni-agent.conf", Rendered);
        Assert.DoesNotContain('\u2010', Rendered);
        Assert.DoesNotContain('\u2212', Rendered);
        Assert.StartsWith("PATRONI-AGENT(1)", Rendered.TrimStart());
        Assert.Contains("patroni-agent 9.8.7", Rendered);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a-b", "a\\-b")]
    [InlineData("C:\\x", "C:\\ex")]
    [InlineData(".starts with a dot", "\\&.starts with a dot")]
    [InlineData("'starts with a quote", "\\&'starts with a quote")]
    public void Text_is_escaped_so_roff_prints_it_as_written(string text, string roff)
    {
        Assert.Equal(roff, ManPage.Escape(text));
    }
}
