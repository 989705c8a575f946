using Akka.Actor;
using Akka.Hosting;
using ActorDb.Client;
using ActorDb.Core.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ActorDb.Hosting;

/// <summary>
/// The embedded default: a generic host running one actor system (a one-node cluster) with the writer and every
/// segment, started through <see cref="ActorDbHostingExtensions.WithActorDb"/> exactly as a user's host application
/// would. Used by the node program, the CLI and the tests. Disposing stops it cleanly (the writer drains first).
/// A node of a cluster with the writer role (its options' HOCON naming seeds) starts the same way, and so does a
/// client node (role <c>client</c>: no segments, no writer; <see cref="Client"/> reaches the cluster's writer singleton).
/// </summary>
public sealed class EmbeddedNode : IAsyncDisposable
{
    private readonly IHost _host;

    private EmbeddedNode(IHost host, ActorSystem system, ActorDbClient client)
    {
        _host = host;
        System = system;
        Client = client;
    }

    /// <summary>The node's actor system.</summary>
    public ActorSystem System { get; }
    /// <summary>A client of this node's writer.</summary>
    public ActorDbClient Client { get; }

    /// <summary>The node's instruments (<c>actordb.*</c>); a listener tells them from another node's in the same process
    /// with <see cref="global::ActorDb.Metrics.ActorDbMetrics.Owns"/>.</summary>
    public global::ActorDb.Metrics.ActorDbMetrics Metrics => global::ActorDb.Metrics.ActorDbMetrics.For(System);

    /// <summary>The settings in force (defaults, config files and options merged).</summary>
    public ActorDbSettings Settings => ActorDbSettings.Create(System.Settings.Config);

    /// <summary>Starts a node and waits until the writer serves transactions.</summary>
    /// <param name="options">ActorDb options (data directory, fsync, extra HOCON).</param>
    /// <param name="logLevel">Minimum level of Akka log events written to the console.</param>
    /// <param name="openTimeout">How long to wait for the volume to open.</param>
    /// <param name="ct">Cancels the start.</param>
    /// <param name="stopOnProcessExit">True: SIGTERM/Ctrl+C run Akka's coordinated shutdown by themselves (a node that
    /// only serves). False: the caller stops the node by disposing it (a program that must first finish its own work,
    /// such as a benchmark printing its report).</param>
    /// <param name="configure">More Akka.Hosting composition after ActorDb's (e.g. a host application's own command
    /// palette, <see cref="Commands.ActorDbCommandsHostingExtensions.WithActorDbCommandPalette"/>).</param>
    /// <exception cref="DataDirectoryException">the data directory cannot be created, belongs to another user or is not
    /// writable (checked before any actor starts; the message is one line naming it). A directory other users could
    /// enter is restricted to 0700, with a warning line on stderr.</exception>
    /// <exception cref="IOException">the data directory is in use by another process.</exception>
    /// <exception cref="ActorDbException">the volume did not open (the message says why).</exception>
    /// <exception cref="Akka.Configuration.ConfigurationException">a setting is invalid, or the node has no writer role.</exception>
    public static async Task<EmbeddedNode> StartAsync(ActorDbOptions options, string logLevel = "INFO", TimeSpan? openTimeout = null,
        CancellationToken ct = default, bool stopOnProcessExit = true, Action<AkkaConfigurationBuilder>? configure = null)
    {
        // Fail fast, with a clear message, before any actor starts.
        var settings = ActorDbSettings.Create(options.ToConfig());
        var node = ActorDbNodeSettings.Create(options.ToConfig());
        if (!node.Writer && !node.IsClient)
            throw new Akka.Configuration.ConfigurationException($"actordb.roles = [{node.RoleList}]: this node runs transactions and needs the writer role " +
                                                                "(or the client role, to run them against a cluster's writer)");
        if (node.Storage)
        {
            using (var dataLock = DataDirectoryLock.Acquire(settings.DataDir))
            {
                if (dataLock.Report.Warning is { } warning) Console.Error.WriteLine($"actordb: warning: {warning}");
                VolumeManifest.CheckOrCreate(settings.DataDir, settings.Geometry);
            }
        }

        var host = CreateHost(options, logLevel, stopOnProcessExit, configure);
        await host.StartAsync(ct);
        var system = host.Services.GetRequiredService<ActorSystem>();
        var client = await ActorDbClient.ForAsync(system, ct);
        try
        {
            await client.WaitUntilServingAsync(openTimeout ?? settings.Writer.OpenTimeout + TimeSpan.FromSeconds(5), ct);
        }
        catch
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
            throw;
        }
        return new EmbeddedNode(host, system, client);
    }

    /// <summary>
    /// A generic host (not started) running one actor system with ActorDb added by
    /// <see cref="ActorDbHostingExtensions.WithActorDb"/>, named by <c>actordb.actor-system</c>: what
    /// <see cref="StartAsync"/> runs, and what the node program runs for a node without the writer role.
    /// </summary>
    /// <param name="options">ActorDb options (data directory, fsync, extra HOCON with the node's roles and cluster keys).</param>
    /// <param name="logLevel">Minimum level of Akka log events written to the console.</param>
    /// <param name="stopOnProcessExit">True: SIGTERM/Ctrl+C run Akka's coordinated shutdown by themselves.</param>
    /// <param name="configure">More Akka.Hosting composition after ActorDb's.</param>
    /// <exception cref="Akka.Configuration.ConfigurationException">a node setting is invalid; the message names the key.</exception>
    /// <exception cref="IOException">the command host is enabled and its port cannot be bound.</exception>
    public static IHost CreateHost(ActorDbOptions options, string logLevel = "INFO", bool stopOnProcessExit = true,
        Action<AkkaConfigurationBuilder>? configure = null)
    {
        var node = ActorDbNodeSettings.Create(options.ToConfig());
        var cmd = ActorDbSettings.Create(options.ToConfig()).Cmd;
        // A port in use is one clear line now rather than a failed start of the hosted service later.
        if (cmd.Enabled) Commands.CommandHost.CheckCanStart(cmd);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Services.AddAkka(node.Cluster.ActorSystem, (akka, _) =>
        {
            akka.AddHocon($"akka.loglevel = {logLevel}\nakka.stdout-loglevel = {logLevel}\nakka.log-dead-letters = off\n" +
                          "akka.log-dead-letters-during-shutdown = off\n" +
                          $"akka.coordinated-shutdown.run-by-clr-shutdown-hook = {(stopOnProcessExit ? "on" : "off")}", HoconAddMode.Prepend);
            akka.WithActorDb(options);
            configure?.Invoke(akka);
        });
        return builder.Build();
    }

    /// <summary>Asks every segment of the volume for its status (segments that do not answer within
    /// <paramref name="timeout"/> are left out).</summary>
    public async Task<IReadOnlyList<ActorDb.Core.Storage.SegmentProtocol.SegmentStatus>> GetSegmentStatusesAsync(TimeSpan timeout)
    {
        var region = await ActorRegistry.For(System).GetAsync<SegmentRegionKey>();
        var geometry = ActorDbSettings.Create(System.Settings.Config).Geometry;
        var asks = new List<Task<ActorDb.Core.Storage.SegmentProtocol.SegmentStatus>>();
        for (var pg = 0; pg < geometry.PgCount; pg++)
            for (var r = 0; r < Core.VolumeGeometry.SegmentsPerPg; r++)
                asks.Add(region.Ask<ActorDb.Core.Storage.SegmentProtocol.SegmentStatus>(new ActorDb.Core.Storage.SegmentProtocol.GetSegmentStatus(pg, r), timeout));
        var result = new List<ActorDb.Core.Storage.SegmentProtocol.SegmentStatus>();
        foreach (var ask in asks)
        {
            try { result.Add(await ask); } catch (AskTimeoutException) { }
        }
        return result;
    }

    /// <summary>Where this node's command host listens (<c>actordb HOST:PORT</c>), or null when
    /// <c>actordb.cmd.enabled</c> is off.</summary>
    public Task<Commands.CommandHostProtocol.Endpoint?> GetCommandEndpointAsync(CancellationToken ct = default) =>
        Commands.CommandHost.GetEndpointAsync(System, ct);

    /// <summary>Stops the node: drains the writer, stops segments after their last fsync, leaves the cluster.</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(CancellationToken.None);
        _host.Dispose();
    }
}
