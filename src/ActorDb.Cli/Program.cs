using System.CommandLine;
using ActorDb.Cli;

// actordb: the ActorDb command-line tool.
//   actordb bench --workload FILE|sysbench-write-only|bank [-p name=value]... [--threads N] [--data-dir DIR] [--ack-log FILE]
//   actordb dump --data-dir DIR --table NAME
var root = new RootCommand("ActorDb: an Aurora-style transactional write path and crash recovery on Akka.NET");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(DumpCommand.Create());
return await root.Parse(args).InvokeAsync();
