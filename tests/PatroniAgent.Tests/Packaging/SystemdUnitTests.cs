using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Packaging;

/// <summary>
/// src/PatroniAgent/Packaging/patroni-agent.service and the template patroni-agent@.service, read as
/// systemd reads them.
/// </summary>
public class SystemdUnitTests
{
    private const string Unit = "patroni-agent.service";
    private const string Template = "patroni-agent@.service";

    private static string UnitPath(string unit) => Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent", "Packaging", unit);

    /// <summary>Every <c>Key=value</c> line of the unit as (section, key, value), comments and blank lines left out.</summary>
    private static List<(string Section, string Key, string Value)> ReadUnit(string unit)
    {
        List<(string, string, string)> entries = [];
        string section = "";
        foreach (string raw in File.ReadAllLines(UnitPath(unit)))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                section = line[1..^1];
                continue;
            }
            int equals = line.IndexOf('=');
            Assert.True(equals > 0, $"not a Key=value line: {line}");
            entries.Add((section, line[..equals].Trim(), line[(equals + 1)..].Trim()));
        }
        return entries;
    }

    private static string Single(string unit, string key) =>
        Assert.Single(ReadUnit(unit), e => e.Section == "Service" && e.Key == key).Value;

    [Fact]
    public void ExecStart_starts_the_binary_itself_with_the_config_file_or_the_instance()
    {
        Assert.Equal("/usr/bin/patroni-agent --config /etc/patroni-agent/patroni-agent.conf", Single(Unit, "ExecStart"));
        Assert.Equal("/usr/bin/patroni-agent --instance %i", Single(Template, "ExecStart"));
    }

    [Fact]
    public void Each_instance_has_its_own_runtime_and_state_directory()
    {
        Assert.Equal(("patroni-agent", "patroni-agent"), (Single(Unit, "RuntimeDirectory"), Single(Unit, "StateDirectory")));
        Assert.Equal(("patroni-agent/%i", "patroni-agent/%i"), (Single(Template, "RuntimeDirectory"), Single(Template, "StateDirectory")));
    }

    [Fact]
    public void The_template_is_the_unit_but_for_the_instance_lines()
    {
        var unit = ReadUnit(Unit);
        var template = ReadUnit(Template);
        string[] instanceKeys = ["Description", "ExecStart", "RuntimeDirectory", "StateDirectory"];

        Assert.Equal(unit.Where(e => !instanceKeys.Contains(e.Key)), template.Where(e => !instanceKeys.Contains(e.Key)));
        Assert.Equal(unit.Select(e => e.Key), template.Select(e => e.Key));
    }

    [Theory]
    [InlineData(Unit)]
    [InlineData(Template)]
    public void It_is_a_notify_service_reloaded_with_sighup_and_restarted_always_as_a_dedicated_user(string unit)
    {
        Assert.Equal("notify", Single(unit, "Type"));
        Assert.Equal("/bin/kill -HUP $MAINPID", Single(unit, "ExecReload"));
        Assert.Equal("always", Single(unit, "Restart"));
        Assert.Equal("1", Single(unit, "RestartSec"));
        Assert.Equal("2", Single(unit, "RestartPreventExitStatus"));
        Assert.Equal("patroni-agent", Single(unit, "User"));
        Assert.Equal("patroni-agent", Single(unit, "Group"));
    }

    [Theory]
    [InlineData("NoNewPrivileges", "yes")]
    [InlineData("ProtectSystem", "strict")]
    [InlineData("ProtectHome", "yes")]
    [InlineData("PrivateTmp", "yes")]
    [InlineData("PrivateDevices", "yes")]
    [InlineData("CapabilityBoundingSet", "")]
    [InlineData("AmbientCapabilities", "")]
    [InlineData("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")]
    [InlineData("LockPersonality", "yes")]
    [InlineData("MemoryDenyWriteExecute", "yes")]
    [InlineData("SystemCallArchitectures", "native")]
    [InlineData("ProtectKernelTunables", "yes")]
    [InlineData("ProtectControlGroups", "yes")]
    public void Hardening_line(string key, string value)
    {
        Assert.Equal(value, Single(Unit, key));
        Assert.Equal(value, Single(Template, key));
    }

    [Theory]
    [InlineData(Unit)]
    [InlineData(Template)]
    public void Nothing_is_writable_and_nothing_runs_before_or_around_the_binary(string unit)
    {
        string[] forbidden = ["ReadWritePaths", "ExecStartPre", "ExecStartPost", "DynamicUser", "PermissionsStartOnly"];
        Assert.DoesNotContain(ReadUnit(unit), e => forbidden.Contains(e.Key));
    }

    /// <summary>systemd-analyze verify of the unit, or of an instance of the template (it verifies no template as such).</summary>
    [Theory]
    [InlineData(Unit, "patroni-agent.service")]
    [InlineData(Template, "patroni-agent@15-main.service")]
    public void Systemd_analyze_verify_accepts_the_unit(string unitName, string verifiedAs)
    {
        string directory = Directory.CreateTempSubdirectory("patroni-agent-unit-").FullName;
        try
        {
            // verify checks that ExecStart is an executable file: the published binary stands in for /usr/bin/patroni-agent.
            string unit = File.ReadAllText(UnitPath(unitName)).Replace("ExecStart=/usr/bin/patroni-agent ", $"ExecStart={PublishedAgent.Path} ");
            File.WriteAllText(Path.Combine(directory, unitName), unit);
            string copy = Path.Combine(directory, verifiedAs);
            if (unitName != verifiedAs)
            {
                File.CreateSymbolicLink(copy, Path.Combine(directory, unitName));
            }

            var result = PublishedAgent.Run("systemd-analyze", ["verify", copy], TimeSpan.FromSeconds(60));

            Assert.Equal(0, result.ExitCode);
            Assert.Equal("", result.Error + result.Output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
