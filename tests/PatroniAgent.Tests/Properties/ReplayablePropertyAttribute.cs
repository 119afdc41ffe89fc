using FsCheck.Xunit;

namespace PatroniAgent.Tests.Properties;

/// <summary>
/// An FsCheck property whose run can be replayed without editing the test. A failure reports
/// "Replay directly at failing step with (SEED,GAMMA,SIZE)"; running the test again with
/// <c>PROPERTY_REPLAY='(SEED,GAMMA,SIZE)' dotnet test ... --filter NAME</c> regenerates exactly that
/// failing case (the generators and the properties use no other source of randomness or time).
/// </summary>
public sealed class ReplayablePropertyAttribute : PropertyAttribute
{
    /// <summary>The environment variable holding the seed to replay, as FsCheck prints it.</summary>
    public const string ReplayVariable = "PROPERTY_REPLAY";

    public ReplayablePropertyAttribute()
    {
        Replay = Environment.GetEnvironmentVariable(ReplayVariable);
        QuietOnSuccess = true;
    }
}
