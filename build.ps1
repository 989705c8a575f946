#!/usr/bin/env pwsh
# ActorDb build script. Run with: dotnet tool restore; dotnet pwsh ./build.ps1 <target>
#   build   - compile everything (Release)
#   test    - run every test (the same command as README and .ci/run)
#   bench   - the main job: YCSB-style insert-only run on the embedded default (fsync on)
#   sysbench - sysbench oltp_write_only mix on the embedded default
#   crash-soak - the kill -9 crash test (tests/ActorDb.Tests/Crash) with -Cycles N cycles instead of the suite's 10;
#                one line per cycle, then a summary (cycles, kills, acked writes checked, failures). ACTORDB_CRASH_SEED
#                fixes the harness's random choices.
#   recovery-bench - time from process start to the first accepted commit after kill -9, median of 5 restarts, after
#                -RedoMiB MiB of redo (default: 100 and 1024) written by an insert-only run that is then killed -9.
#                Redo written is counted by the segment log files pg-0-0 rolled (4 MiB each, actordb.segment.max-file-bytes).
param([ValidateSet('build', 'test', 'bench', 'sysbench', 'crash-soak', 'recovery-bench')][string]$Target = 'build', [int]$Threads = 64, [int]$Cycles = 200,
      [int[]]$RedoMiB = @(100, 1024))
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
  'recovery-bench' {
    dotnet build src/ActorDb.Cli -c Release | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $cli = Join-Path $PSScriptRoot 'src/ActorDb.Cli/bin/Release/net10.0/actordb.dll'
    $workload = Join-Path $PSScriptRoot 'workloads/ycsb-insert-only'
    function Start-Cli([string[]]$argv) {
      $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
      $psi.ArgumentList.Add($cli); foreach ($a in $argv) { $psi.ArgumentList.Add($a) }
      $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
      $p = [Diagnostics.Process]::Start($psi)
      $null = $p.StandardError.ReadToEndAsync()   # drained, so the child never blocks on a full pipe
      return $p
    }
    function Kill9([Diagnostics.Process]$p) { & kill -9 $p.Id; $p.WaitForExit() }
    $results = @()
    foreach ($mib in $RedoMiB) {
      $dir = Join-Path ([IO.Path]::GetTempPath()) ("actordb-recovery-bench-{0}mib-{1}" -f $mib, [Guid]::NewGuid().ToString('N').Substring(0, 8))
      $files = [Math]::Ceiling($mib / 4)
      Write-Host "recovery-bench: filling $dir with $mib MiB of redo (insert-only, $Threads threads, fsync on), then kill -9"
      $fill = Start-Cli @('bench', '--workload', $workload, '-p', 'operationcount=100000000', '--threads', "$Threads", '--data-dir', $dir)
      $null = $fill.StandardOutput.ReadToEndAsync()
      $seg = Join-Path $dir 'az-a/pg-0-0'
      $sw = [Diagnostics.Stopwatch]::StartNew()
      while ($true) {
        Start-Sleep -Milliseconds 200
        if ($fill.HasExited) { throw "the fill run exited early (code $($fill.ExitCode))" }
        $last = Get-ChildItem -Path $seg -Filter 'redo-*.log' -ErrorAction SilentlyContinue | Sort-Object Name | Select-Object -Last 1
        if ($last -and [int]$last.BaseName.Substring(5) -gt $files) { break }
      }
      Kill9 $fill
      Write-Host ("  {0} MiB written in {1:0} s; killed -9" -f $mib, $sw.Elapsed.TotalSeconds)
      $times = @()
      for ($i = 1; $i -le 5; $i++) {
        $start = 1000000000L * $i
        $run = Start-Cli @('bench', '--workload', $workload, '--skip-load', '-p', "recordcount=$start", '-p', "insertstart=$start",
                           '-p', 'operationcount=1000000', '--threads', '4', '--data-dir', $dir)
        $ms = $null
        while ($null -ne ($line = $run.StandardOutput.ReadLine())) {
          if ($line -match '^\[bench\] first commit acknowledged (\d+) ms after process start') { $ms = [int]$Matches[1]; break }
        }
        Kill9 $run
        if ($null -eq $ms) { throw "restart $i printed no first commit" }
        $times += $ms
        Write-Host "  restart $i after kill -9: first commit $ms ms after process start"
      }
      $median = ($times | Sort-Object)[2]
      $results += [pscustomobject]@{ RedoMiB = $mib; MedianMs = $median; Times = ($times -join ', ') }
      Remove-Item -Recurse -Force $dir
    }
    $results | Format-Table -AutoSize | Out-String | Write-Host
    if ($results.Count -ge 2) { Write-Host ("ratio of medians (largest / smallest redo): {0:0.00}" -f ($results[-1].MedianMs / $results[0].MedianMs)) }
    exit 0
  }
}
exit $LASTEXITCODE
