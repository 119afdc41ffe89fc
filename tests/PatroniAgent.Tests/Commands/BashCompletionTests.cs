using PatroniAgent.Commands;
using PatroniAgent.Configuration;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Commands;

/// <summary>The bash completion, run by bash as a user's TAB runs it: COMP_WORDS in, COMPREPLY out.</summary>
public sealed class BashCompletionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("patroni-agent-completion-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>What the completion offers for the words typed so far, the last one being completed.</summary>
    private string[] Complete(params string[] words)
    {
        string script = Path.Combine(_directory, "patroni-agent");
        File.WriteAllText(script, BashCompletion.Render());
        string quoted = string.Join(' ', words.Select(w => "'" + w.Replace("'", "'\\''") + "'"));
        var result = PublishedAgent.Run("bash", ["--norc", "-c",
            $"source '{script}' && COMP_WORDS=(patroni-agent {quoted}) && COMP_CWORD={words.Length} && _patroni_agent && printf '%s\\n' \"${{COMPREPLY[@]}}\""],
            TimeSpan.FromSeconds(30));
        Assert.True(result.ExitCode == 0, $"bash exited {result.ExitCode}: {result.Error}");
        Assert.Equal("", result.Error);
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void The_first_word_offers_every_command_and_the_options_of_run()
    {
        string[] offered = Complete("");
        Assert.Equal(CommandTable.Help.Select(c => c.Name), offered.Take(CommandTable.Help.Count));
        Assert.Equal(ConfigLoader.Options.SelectMany(o => o.Spellings), offered.Skip(CommandTable.Help.Count));
    }

    [Fact]
    public void A_prefix_narrows_the_commands()
    {
        Assert.Equal(["drain"], Complete("dr"));
        Assert.Equal(["check", "callbacks", "completion"], Complete("c"));
    }

    [Fact]
    public void Every_agent_option_is_offered_after_a_command()
    {
        Assert.Equal(ConfigLoader.Options.SelectMany(o => o.Spellings), Complete("check", ""));
        Assert.Equal(["--poll-interval"], Complete("check", "--poll"));
    }

    [Fact]
    public void Drain_and_maint_also_offer_reason_and_ready_does_not()
    {
        Assert.Equal(["--reason"], Complete("drain", "--rea"));
        Assert.Equal(["--reason"], Complete("maint", "--reason"));
        Assert.Empty(Complete("ready", "--rea"));
    }

    [Fact]
    public void Haproxy_config_offers_its_own_options()
    {
        Assert.Equal(HaproxyConfigCommand.MemberOptions.Concat(HaproxyConfigCommand.Options).SelectMany(o => o.Spellings), Complete("haproxy-config", ""));
        Assert.Equal(["--sync", "--sync-port"], Complete("haproxy-config", "--sync"));
        Assert.DoesNotContain("--poll-interval", Complete("haproxy-config", "--p"));
    }

    [Fact]
    public void Completion_offers_the_shell_and_manpage_nothing()
    {
        Assert.Equal(["bash"], Complete("completion", ""));
        Assert.Empty(Complete("manpage", ""));
    }

    [Fact]
    public void Log_levels_are_offered_after_log_level_with_or_without_an_equals_sign()
    {
        Assert.Equal(["warning"], Complete("--log-level", "w"));
        Assert.Equal(["warning"], Complete("--log-level", "=", "w"));
        Assert.Equal(ConfigLoader.LogLevels, Complete("run", "--log-level", ""));
    }

    [Fact]
    public void Log_formats_are_offered_after_log_format()
    {
        Assert.Equal(["text", "json"], Complete("--log-format", ""));
        Assert.Equal(["json"], Complete("check", "--log-format", "j"));
    }

    [Fact]
    public void File_options_complete_file_names_and_the_agent_and_haproxy_config_share_them()
    {
        File.WriteAllText(Path.Combine(_directory, "agent.conf"), "");
        string prefix = Path.Combine(_directory, "agent.c");
        Assert.Equal([prefix + "onf"], Complete("--config", prefix));
        Assert.Equal([prefix + "onf"], Complete("haproxy-config", "--patroni-ca-file", prefix));
        Assert.Equal([prefix + "onf"], Complete("--state-file", prefix));
    }

    [Fact]
    public void Options_that_take_other_values_offer_nothing_rather_than_options()
    {
        Assert.Empty(Complete("--poll-interval", ""));
        Assert.Empty(Complete("--listen", "--"));
        Assert.Empty(Complete("haproxy-config", "--member", ""));
        Assert.Empty(Complete("drain", "--reason", ""));
    }

    [Fact]
    public void An_unknown_command_offers_nothing()
    {
        Assert.Empty(Complete("bogus", "--"));
    }
}
