namespace PatroniAgent.Configuration;

/// <summary>A configuration error. The message is the whole sentence shown to the user: source, key and problem.</summary>
public sealed class ConfigException(string message) : Exception(message);
