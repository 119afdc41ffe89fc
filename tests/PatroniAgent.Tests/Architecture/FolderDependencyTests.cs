using System.Text.RegularExpressions;
using PatroniAgent.Tests.EndToEnd;

namespace PatroniAgent.Tests.Architecture;

/// <summary>
/// The folders of src/PatroniAgent and what each uses, read from the sources (<c>using PatroniAgent.X;</c>
/// and fully qualified <c>PatroniAgent.X.Name</c>), against the map at the top of docs/design.md.
/// </summary>
public partial class FolderDependencyTests
{
    private static readonly string Source = Path.Combine(PublishedAgent.RepositoryRoot, "src", "PatroniAgent");

    /// <summary>Each folder and the folders its code names.</summary>
    private static Dictionary<string, SortedSet<string>> Uses()
    {
        var uses = new Dictionary<string, SortedSet<string>>();
        foreach (string file in Directory.GetFiles(Source, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(Source, file);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal) || !relative.Contains(Path.DirectorySeparatorChar))
            {
                continue;
            }
            string folder = relative[..relative.IndexOf(Path.DirectorySeparatorChar)];
            var used = uses.TryGetValue(folder, out var set) ? set : uses[folder] = new SortedSet<string>(StringComparer.Ordinal);
            foreach (Match m in Reference().Matches(File.ReadAllText(file)))
            {
                if (m.Groups[1].Value != folder)
                {
                    used.Add(m.Groups[1].Value);
                }
            }
        }
        return uses;
    }

    [GeneratedRegex(@"\bPatroniAgent\.([A-Z][A-Za-z]+)\b(?=[;.])")]
    private static partial Regex Reference();

    [Fact]
    public void No_folder_uses_a_folder_that_uses_it_back()
    {
        var uses = Uses();
        var order = new List<string>();
        var state = new Dictionary<string, bool>();
        void Visit(string folder, Stack<string> path)
        {
            if (state.TryGetValue(folder, out bool done))
            {
                Assert.True(done, $"a cycle between folders: {string.Join(" -> ", path.Reverse().Append(folder))}");
                return;
            }
            state[folder] = false;
            path.Push(folder);
            foreach (string used in uses.GetValueOrDefault(folder) ?? [])
            {
                Visit(used, path);
            }
            path.Pop();
            state[folder] = true;
            order.Add(folder);
        }
        foreach (string folder in uses.Keys.Order(StringComparer.Ordinal))
        {
            Visit(folder, new Stack<string>());
        }
        Assert.Equal(uses.Count, order.Count);
    }

    [Theory]
    [InlineData("Server", "")]
    [InlineData("Http", "")]
    [InlineData("Patroni", "")]
    [InlineData("AgentProtocol", "")]
    [InlineData("Policy", "AgentProtocol Patroni")]
    [InlineData("HttpCheck", "AgentProtocol Http")]
    [InlineData("Watcher", "AgentProtocol Answers Patroni Policy")]
    public void The_data_path_folders_use_only_what_comes_before_them(string folder, string expected)
    {
        Assert.Equal(expected, string.Join(' ', Uses()[folder]));
    }

    [Fact]
    public void The_map_in_design_md_names_every_folder_and_what_it_uses()
    {
        string design = File.ReadAllText(Path.Combine(PublishedAgent.RepositoryRoot, "docs", "design.md"));
        foreach (var (folder, used) in Uses())
        {
            var row = Regex.Match(design, $@"^\| `{folder}/` \|[^\n]*\| ([^|\n]*) \|$", RegexOptions.Multiline);
            Assert.True(row.Success, $"docs/design.md has no row for {folder}/");
            Assert.Equal(used.Count == 0 ? "nothing" : string.Join(", ", used), row.Groups[1].Value);
        }
    }
}
