namespace ActorDb.Commands;

/// <summary>Settings of the command host (section <c>actordb.cmd</c>).</summary>
/// <param name="Enabled">Whether the node listens for <c>actordb HOST:PORT</c> clients.</param>
/// <param name="Host">The address it binds (loopback by default).</param>
/// <param name="Port">The TCP port; 0 picks a free one.</param>
/// <param name="AdminTokenFile">The file holding the admin token (full path; created at start when missing).</param>
/// <param name="ReadTokenFile">The file holding the read token (full path; created at start when missing).</param>
/// <param name="MaxLineBytes">The longest request line, in bytes.</param>
/// <param name="MaxPendingOutputBytes">Output queued for one client, in bytes, over which it is disconnected.</param>
/// <param name="AuthTimeout">How long a new connection may take to send its token.</param>
/// <param name="IdleTimeout">How long a connection may go without a request while no command runs.</param>
/// <param name="MaxConnections">Connections served at once.</param>
public sealed record CommandHostSettings(bool Enabled, string Host, int Port, string AdminTokenFile, string ReadTokenFile,
    int MaxLineBytes, long MaxPendingOutputBytes, TimeSpan AuthTimeout, TimeSpan IdleTimeout, int MaxConnections);
