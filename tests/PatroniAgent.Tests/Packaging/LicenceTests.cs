using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Packaging;

/// <summary>The MIT licence of LICENSE, as the packages (their copyright file) and the README state it.</summary>
public class LicenceTests
{
    private static string Read(params string[] path) => File.ReadAllText(Path.Combine([PublishedAgent.RepositoryRoot, .. path]));

    [Fact]
    public void The_packages_copyright_file_grants_the_project_the_MIT_licence_of_LICENSE()
    {
        string[] licence = Read("LICENSE").Split('\n');
        Assert.Equal("MIT License", licence[0]);
        Assert.Equal("Copyright (c) 2026 the PatroniAgent authors", licence[2]);
        string permission = string.Join('\n', licence[4..]).Trim();

        string[] copyright = Read("src", "PatroniAgent", "Packaging", "copyright").Split('\n');
        int start = Array.IndexOf(copyright, "Copyright (c) 2026 the PatroniAgent authors.");
        Assert.True(start > 0, "the copyright file does not name the project's authors");
        Assert.Equal("License: MIT", copyright[start + 1]);
        var text = copyright[(start + 2)..].TakeWhile(line => line.StartsWith(' ')).Select(line => line == " ." ? "" : line[1..]);
        Assert.Equal(permission, string.Join('\n', text));
    }

    [Fact]
    public void The_readme_names_the_licence()
    {
        string readme = Read("README.md");
        Assert.Contains("\n## Licence\n\nMIT: see [LICENSE](LICENSE).", readme);
    }
}
