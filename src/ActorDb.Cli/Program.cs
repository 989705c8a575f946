using System.CommandLine;
using ActorDb.Cli;
using ActorDb.Cli.Remote;

// actordb: the ActorDb command-line tool.
//   actordb bench --workload FILE|sysbench-write-only|bank [-p name=value]... [--threads N] [--data-dir DIR] [--ack-log FILE]
//   actordb dump --data-dir DIR --table NAME
//   actordb certs --out DIR --nodes NAME[,NAME...]   the CA and per-node certificates of a cluster's mutual TLS
//   actordb HOST:PORT [COMMAND...] [--json]     a node's command host: one command, or a REPL without one
if (RemoteCli.IsTarget(args)) return await RemoteCli.RunAsync(args);
var root = new RootCommand("ActorDb: an Aurora-style transactional write path and crash recovery on Akka.NET. " +
                           "actordb HOST:PORT [COMMAND...] [--json] talks to a node's command host (no command: a REPL)");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(DumpCommand.Create());
root.Subcommands.Add(CertsCommand.Create());
return await root.Parse(args).InvokeAsync();
