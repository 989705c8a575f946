#!/usr/bin/env pwsh
# ActorDb build script. Run with: dotnet tool restore; dotnet pwsh ./build.ps1 <target>
#   build   - compile everything (Release)
#   test    - run every test (the same command as README and .ci/run)
#   bench   - the main job: YCSB-style insert-only run on the embedded default (fsync on)
#   sysbench - sysbench oltp_write_only mix on the embedded default
param([ValidateSet('build', 'test', 'bench', 'sysbench')][string]$Target = 'build', [int]$Threads = 64)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
switch ($Target) {
  'build'    { dotnet build ActorDb.sln -c Release }
  'test'     { dotnet test ActorDb.sln -c Release }
  'bench'    { dotnet run --project src/ActorDb.Cli -c Release -- bench --workload workloads/ycsb-insert-only --threads $Threads }
  'sysbench' { dotnet run --project src/ActorDb.Cli -c Release -- bench --workload sysbench-write-only --threads $Threads }
}
exit $LASTEXITCODE
