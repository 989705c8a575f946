#!/usr/bin/env pwsh
# ActorDb build script. Run with: dotnet tool restore; dotnet pwsh ./build.ps1 <target>
#   build   - compile everything (Release)
#   test    - run every test (the same command as README and .ci/run)
#   bench   - the main job: YCSB-style insert-only run on the embedded default (fsync on)
#   sysbench - sysbench oltp_write_only mix on the embedded default
#   crash-soak - the kill -9 crash test (tests/ActorDb.Tests/Crash) with -Cycles N cycles instead of the suite's 10;
#                one line per cycle, then a summary (cycles, kills, acked writes checked, failures). ACTORDB_CRASH_SEED
#                fixes the harness's random choices.
param([ValidateSet('build', 'test', 'bench', 'sysbench', 'crash-soak')][string]$Target = 'build', [int]$Threads = 64, [int]$Cycles = 200)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
switch ($Target) {
  'build'    { dotnet build ActorDb.sln -c Release }
  'test'     { dotnet test ActorDb.sln -c Release }
  'bench'    { dotnet run --project src/ActorDb.Cli -c Release -- bench --workload workloads/ycsb-insert-only --threads $Threads }
  'sysbench' { dotnet run --project src/ActorDb.Cli -c Release -- bench --workload sysbench-write-only --threads $Threads }
  'crash-soak' {
    $log = Join-Path ([IO.Path]::GetTempPath()) ("actordb-crash-soak-{0:yyyyMMdd-HHmmss}.log" -f (Get-Date))
    $env:ACTORDB_CRASH_CYCLES = "$Cycles"
    $env:ACTORDB_CRASH_LOG = $log
    Write-Host "crash soak: $Cycles kill -9 cycles; a line per cycle goes to $log as it happens (tail -f it)"
    dotnet test tests/ActorDb.Tests -c Release --filter 'FullyQualifiedName~ActorDb.Tests.Crash' --logger 'console;verbosity=detailed'
    $code = $LASTEXITCODE
    if (Test-Path $log) { Select-String -Path $log -Pattern '^\[crash\] (FAILED|SUMMARY)' | ForEach-Object { $_.Line } }
    exit $code
  }
}
exit $LASTEXITCODE
