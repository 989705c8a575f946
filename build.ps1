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
#   cluster-bench - the 9-process loopback cluster (1 lighthouse, 6 storage nodes in 3 AZs, 2 writer nodes; workstation GC):
#                sysbench-write-only from a separate `actordb bench --seeds` process at 16 and 64 threads, then the same on
#                the embedded default; -Failovers N (default 5) kill -9s of the active writer under an insert-only bench
#                (time from the kill to the first commit on the new writer, median); and the catch-up rate of a storage
#                node whose data directory was deleted. Logs and data under $TMPDIR/actordb-cluster-bench-*. -NoSysbench
#                skips the sysbench runs; -Seconds N sets their length (default 30); -Failovers 0 stops after them.
#                -Loads 16,64 the thread counts, -NoEmbedded skips the embedded runs, -NoCatchUp the catch-up. Every process
#                links over mutual TLS with certificates `actordb certs` makes in the run's folder; -Insecure runs the same
#                cluster over plain TCP (actordb.security.insecure = on), to measure what TLS costs.
#                -GoneMinutes N runs only the memory scenario of issue 12 instead: an insert-only bench at 16 threads, 120 s of
#                warm-up, then kill -9 of both az-c storage nodes (two segments of the PG gone) for N minutes; the active
#                writer's RSS (VmRSS) is sampled every 10 s: before the kill, the highest while they are gone, at the end.
#                -NoKill runs the same without the kill: the control (the writer's buffer cache grows with the table either way).
#                -CachePages N sets the writers' buffer-cache-pages (default 65536, 512 MiB) so the cache fills in the warm-up.
#   simulate   - the deterministic simulator (issue 17): -Seeds N runs (default 1000) from seed -From S (default 0) over
#                every core; prints each failing seed with its violated checks and replay command, then runs, failures
#                and seeds/s. Exits non-zero on a failure. Replay one: dotnet run --project src/ActorDb.Simulation -c
#                Release -- --seed S --trace
#   heal-bench - time from disk space freed to the first acknowledged commit (issue 12), median of -Runs N (default 5):
#                the embedded default runs an insert-only bench at 16 threads on a data directory in a small tmpfs (needs
#                root: it mounts one; tmpfs refuses O_DIRECT, so the log is written with write + fdatasync); a filler file
#                takes every free byte until commits stall on ENOSPC, then it is deleted; the bench's gap line gives the
#                first commit after that. Logs under $TMPDIR/actordb-heal-bench-*.
#   scrub-bench - what the background page scrub costs (issue 12): insert-only at -Threads N (default 64) on the embedded
#                default, scrub at its default rate against scrub off (actordb.segment.scrub.pages-per-second = 0),
#                interleaved, -Runs N pairs (default 3) of -Seconds s (default 30) each, each run on a fresh data directory
#                loaded with -Records N rows (default 300000) first so the scrub has pages to read; medians and their ratio.
#   repair-bench - page repair and scrub rates (issue 12) on the embedded default node: loads -Records N rows (default
#                300000) once, then -Runs N times (default 3): stops the node, damages every written slot of pg-0-0's
#                pages.dat (one byte of each page flipped), drops the OS page cache where allowed, starts actordb-node with the
#                scrub at -ScrubRate pages/s (default 100000: as fast as it goes), and reads the damaged segment's "every
#                damaged page is repaired: N found, M repaired in S s" line (pages/s, MB/s of page images); then samples
#                `pg show` twice -Seconds apart (default 10; the page cache dropped first where allowed) for the scrub rate of
#                the five undamaged segments. Medians.
#   cluster-soak - the process-level cluster tests (tests/ActorDb.Tests/Cluster/ClusterFailoverTests: AZ loss, stall and
#                return, writer kill -9, clean hand-over, frozen writer; each checks every acknowledged write) -Cycles
#                times (default 5 here), one summary line per cycle.
param([ValidateSet('build', 'test', 'bench', 'sysbench', 'crash-soak', 'recovery-bench', 'cluster-bench', 'cluster-soak', 'heal-bench', 'scrub-bench', 'repair-bench', 'simulate')][string]$Target = 'build', [int]$Threads = 64, [int]$Cycles = 200,
      [int[]]$RedoMiB = @(100, 1024), [int]$Failovers = 5, [int]$Seconds = 30, [switch]$NoSysbench, [int[]]$Loads = @(16, 64),
      [switch]$NoEmbedded, [switch]$NoCatchUp, [switch]$Insecure, [int]$Runs = 5, [int]$GoneMinutes = 0, [int]$Records = 300000, [switch]$NoKill, [int]$CachePages = 0, [int]$ScrubRate = 100000,
      [int]$Seeds = 1000, [long]$From = 0)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
# The median of the benchmarks' runs: the middle value, the lower of the two middle ones for an even count.
function Get-Median($xs) { $s = @($xs | Sort-Object); $s[[int][Math]::Floor(($s.Count - 1) / 2)] }
switch ($Target) {
  'build'    { dotnet build ActorDb.sln -c Release }
  'test'     { dotnet test ActorDb.sln -c Release }
  'bench'    { dotnet run --project src/ActorDb.Cli -c Release -- bench --workload workloads/ycsb-insert-only --threads $Threads }
  'simulate' {
    dotnet run --project src/ActorDb.Simulation -c Release -- --seeds $Seeds --from $From
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  }
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
      $median = Get-Median $times
      $results += [pscustomobject]@{ RedoMiB = $mib; MedianMs = $median; Times = ($times -join ', ') }
      Remove-Item -Recurse -Force $dir
    }
    $results | Format-Table -AutoSize | Out-String | Write-Host
    if ($results.Count -ge 2) { Write-Host ("ratio of medians (largest / smallest redo): {0:0.00}" -f ($results[-1].MedianMs / $results[0].MedianMs)) }
    exit 0
  }
  'cluster-soak' {
    $n = if ($PSBoundParameters.ContainsKey('Cycles')) { $Cycles } else { 5 }
    dotnet build ActorDb.sln -c Release | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $failed = 0
    for ($i = 1; $i -le $n; $i++) {
      $out = dotnet test tests/ActorDb.Tests -c Release --no-build --filter 'FullyQualifiedName~ActorDb.Tests.Cluster.ClusterFailoverTests' --logger 'console;verbosity=detailed' 2>&1
      $summary = ($out | Where-Object { $_ -match '^\s*(Total tests|Passed|Failed):' } | ForEach-Object { $_.Trim() }) -join ', '
      $facts = $out | Where-Object { $_ -match '^\s+(failover|hand-over|takeover|stalled at|commits resumed|\d+ acknowledged)' } | ForEach-Object { $_.Trim() }
      if ($LASTEXITCODE -ne 0) { $failed++ }
      Write-Host "[cluster-soak] cycle $i`: $summary"
      $facts | ForEach-Object { Write-Host "    $_" }
    }
    Write-Host "[cluster-soak] $n cycles, $failed failed"
    exit [int]($failed -gt 0)
  }
  'heal-bench' {
    if ((& id -u) -ne '0') { throw "heal-bench mounts a tmpfs: run it as root" }
    dotnet build src/ActorDb.Cli -c Release | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $cli = Join-Path $PSScriptRoot 'src/ActorDb.Cli/bin/Release/net10.0/actordb.dll'
    $root = Join-Path ([IO.Path]::GetTempPath()) ("actordb-heal-bench-{0:yyyyMMdd-HHmmss}" -f (Get-Date))
    New-Item -ItemType Directory -Path $root | Out-Null
    $gapLine = 'no commit acknowledged for (\d+) ms: .* \((\d+) ms since the epoch\)'
    $results = @()
    for ($run = 1; $run -le $Runs; $run++) {
      $mnt = Join-Path $root "disk-$run"
      New-Item -ItemType Directory -Path $mnt | Out-Null
      & mount -t tmpfs -o size=512m tmpfs $mnt
      if ($LASTEXITCODE -ne 0) { throw "heal-bench: mount of a tmpfs on $mnt failed" }
      $out = Join-Path $root "bench-$run.out"
      $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
      foreach ($a in @($cli, 'bench', '--workload', (Join-Path $PSScriptRoot 'workloads/ycsb-insert-only'), '-p', 'operationcount=100000000',
                       '--threads', '16', '--data-dir', (Join-Path $mnt 'data'))) { $psi.ArgumentList.Add($a) }
      $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
      $p = [Diagnostics.Process]::Start($psi)
      $stdout = [Collections.Concurrent.ConcurrentQueue[string]]::new()
      $null = Register-ObjectEvent -InputObject $p -EventName OutputDataReceived -Action { if ($EventArgs.Data) { $Event.MessageData.Enqueue($EventArgs.Data) } } -MessageData $stdout
      $p.BeginOutputReadLine()
      $null = $p.StandardError.ReadToEndAsync()
      try {
        Start-Sleep -Seconds 10   # the node starts and commits flow
        $filler = Join-Path $mnt 'filler'
        $free = [IO.DriveInfo]::new($mnt).AvailableFreeSpace
        & fallocate -l $free $filler 2>$null
        # Whatever fallocate left (or a file system without it): fill the rest a MiB at a time until ENOSPC.
        & dd if=/dev/zero of="$filler.2" bs=1M 2>$null
        Start-Sleep -Seconds 5    # commits stall on ENOSPC
        $freedAt = [long]([DateTime]::UtcNow - [DateTime]::UnixEpoch).TotalMilliseconds
        Remove-Item -Force $filler, "$filler.2" -ErrorAction SilentlyContinue
        Start-Sleep -Seconds 10
      } finally {
        if (-not $p.HasExited) { & kill -9 $p.Id; $p.WaitForExit() }
        & umount $mnt
      }
      $lines = @($stdout.ToArray())
      Set-Content -Path $out -Value $lines
      $first = $lines | ForEach-Object { if ($_ -match $gapLine -and [long]$Matches[2] -ge $freedAt) { [long]$Matches[2] } } | Select-Object -First 1
      if ($null -eq $first) { Write-Host "[heal-bench] run $run`: no commit after the space was freed within 10 s (see $out)"; $results += 10000; continue }
      $ms = $first - $freedAt
      Write-Host "[heal-bench] run $run`: first commit $ms ms after the space was freed"
      $results += $ms
    }
    Write-Host ("[heal-bench] time from space freed to the first commit: median {0} ms over {1} runs (all: {2})" -f (Get-Median $results), $results.Count, ($results -join ', '))
  }
  'scrub-bench' {
    $pairs = if ($PSBoundParameters.ContainsKey('Runs')) { $Runs } else { 3 }
    dotnet build src/ActorDb.Cli -c Release | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $cli = Join-Path $PSScriptRoot 'src/ActorDb.Cli/bin/Release/net10.0/actordb.dll'
    $root = Join-Path ([IO.Path]::GetTempPath()) ("actordb-scrub-bench-{0:yyyyMMdd-HHmmss}" -f (Get-Date))
    New-Item -ItemType Directory -Path $root | Out-Null
    $off = Join-Path $root 'scrub-off.conf'
    Set-Content -Path $off -Value 'actordb.segment.scrub.pages-per-second = 0'
    $workload = Join-Path $PSScriptRoot 'workloads/ycsb-insert-only'
    $tput = @{ on = @(); off = @() }
    for ($i = 1; $i -le $pairs; $i++) {
      foreach ($mode in @('on', 'off')) {
        $dir = Join-Path $root "$mode-$i"
        $cfg = if ($mode -eq 'off') { @('--config', $off) } else { @() }
        # Load first (rows for the scrub to read), then the measured run on the same directory.
        & dotnet $cli bench --workload $workload -p "recordcount=$Records" -p 'operationcount=0' --threads 16 --data-dir $dir @cfg *> (Join-Path $root "$mode-$i-load.out")
        $out = & dotnet $cli bench --workload $workload --skip-load -p "recordcount=$Records" -p "insertstart=$Records" -p 'operationcount=100000000' `
                 -p "maxexecutiontime=$Seconds" --threads $Threads --data-dir $dir @cfg 2>&1
        Set-Content -Path (Join-Path $root "$mode-$i.out") -Value $out
        $line = $out | Where-Object { $_ -match '^\[OVERALL\], Throughput\(ops/sec\), ([\d.]+)' } | Select-Object -Last 1
        $v = if ($line -match '([\d.]+)$') { [double]$Matches[1] } else { 0 }
        $tput[$mode] += $v
        Write-Host ("[scrub-bench] pair $i, scrub {0,-3}: {1:0} inserts/s" -f $mode, $v)
      }
    }
    $on = Get-Median $tput['on']; $offM = Get-Median $tput['off']
    Write-Host ("[scrub-bench] insert-only, {0} threads: scrub on median {1:0}/s, off {2:0}/s: on/off = {3:0.000} (cost {4:0.0}%)" -f $Threads, $on, $offM, ($on / $offM), (100 * (1 - $on / $offM)))
  }
  'repair-bench' {
    if (-not $PSBoundParameters.ContainsKey('Runs')) { $Runs = 3 }
    $gap = if ($PSBoundParameters.ContainsKey('Seconds')) { $Seconds } else { 10 }
    dotnet build ActorDb.sln -c Release | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $cli = Join-Path $PSScriptRoot 'src/ActorDb.Cli/bin/Release/net10.0/actordb.dll'
    $nodeDll = Join-Path $PSScriptRoot 'src/ActorDb.Node/bin/Release/net10.0/actordb-node.dll'
    $root = Join-Path ([IO.Path]::GetTempPath()) ("actordb-repair-bench-{0:yyyyMMdd-HHmmss}" -f (Get-Date))
    New-Item -ItemType Directory -Path $root | Out-Null
    $data = Join-Path $root 'data'
    $conf = Join-Path $root 'repair.conf'
    Set-Content -Path $conf -Value "actordb.segment.scrub.pages-per-second = $ScrubRate`nactordb.cmd.port = 0"
    $pageSize = 8192; $slot = 16 + $pageSize
    # Drops the OS page cache where this machine allows it (root, /proc/sys writable); false elsewhere (e.g. a container).
    function Drop-PageCache { & sync; try { [IO.File]::WriteAllText('/proc/sys/vm/drop_caches', '3'); return $true } catch { return $false } }
    $cacheDropped = $true
    Write-Host "[repair-bench] loading $Records rows (insert-only, 16 threads) into $data"
    & dotnet $cli bench --workload (Join-Path $PSScriptRoot 'workloads/ycsb-insert-only') -p "recordcount=$Records" -p 'operationcount=0' --threads 16 --data-dir $data *> (Join-Path $root 'load.out')
    if ($LASTEXITCODE -ne 0) { throw "repair-bench: the load failed (see $root/load.out)" }
    $store = Get-ChildItem -Path $data -Recurse -Filter 'pages.dat' | Where-Object { $_.Directory.Name -eq 'pg-0-0' } | Select-Object -First 1
    if ($null -eq $store) { throw "repair-bench: no pg-0-0/pages.dat under $data" }
    # Flips one byte in the middle of every written slot's page (a slot: 16-byte header with the magic "ADPG" at +12, then the page).
    function Damage-Slots([string]$path) {
      $fs = [IO.File]::Open($path, 'Open', 'ReadWrite', 'None')
      try {
        $header = [byte[]]::new(16); $one = [byte[]]::new(1); $n = 0
        for ($off = [long]0; $off + $slot -le $fs.Length; $off += $slot) {
          $fs.Position = $off; $null = $fs.Read($header, 0, 16)
          if ([BitConverter]::ToUInt32($header, 12) -ne 0x47504441) { continue }
          $fs.Position = $off + 16 + $pageSize / 2; $null = $fs.Read($one, 0, 1)
          $one[0] = $one[0] -bxor 0xFF
          $fs.Position = $off + 16 + $pageSize / 2; $fs.Write($one, 0, 1); $n++
        }
        $fs.Flush($true); return $n
      } finally { $fs.Dispose() }
    }
    $repairRates = @(); $repairMBs = @(); $scrubRates = @(); $scrubMBs = @()
    for ($run = 1; $run -le $Runs; $run++) {
      $damaged = Damage-Slots $store.FullName
      $cacheDropped = (Drop-PageCache) -and $cacheDropped
      $log = Join-Path $root "node-$run.log"
      $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
      foreach ($a in @($nodeDll, '--data-dir', $data, '--config', $conf)) { $psi.ArgumentList.Add($a) }
      $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
      $psi.Environment['AKKA__LOGLEVEL'] = 'INFO'
      $p = [Diagnostics.Process]::Start($psi)
      $out = [IO.FileStream]::new($log, 'Append', 'Write', 'ReadWrite', 1)
      $null = $p.StandardOutput.BaseStream.CopyToAsync($out); $null = $p.StandardError.BaseStream.CopyToAsync($out)
      $readLog = { $fs = [IO.File]::Open($log, 'Open', 'Read', 'ReadWrite'); $sr = [IO.StreamReader]::new($fs); try { $sr.ReadToEnd() -split "`n" } finally { $sr.Dispose() } }
      try {
        $sw = [Diagnostics.Stopwatch]::StartNew(); $done = $null; $endpoint = $null
        while ($sw.Elapsed.TotalSeconds -lt 600 -and -not $done) {
          Start-Sleep -Milliseconds 200
          $lines = & $readLog
          if (-not $endpoint) { $endpoint = $lines | ForEach-Object { if ($_ -match 'command host on (\S+)') { $Matches[1] } } | Select-Object -First 1 }
          $done = $lines | Where-Object { $_ -match 'pg-0-0 \(PG 0\): every damaged page is repaired: (\d+) found, (\d+) repaired from peers in ([\d.]+) s' } | Select-Object -First 1
          if ($p.HasExited) { throw "repair-bench: the node exited (see $log)" }
        }
        if (-not $done) { throw "repair-bench: pg-0-0 did not repair its pages within 600 s (see $log)" }
        $null = $done -match 'repaired: (\d+) found, (\d+) repaired from peers in ([\d.]+) s'
        $found = [long]$Matches[1]; $repaired = [long]$Matches[2]; $secs = [double]$Matches[3]
        $rate = $repaired / [Math]::Max($secs, 0.001)
        $repairRates += $rate; $repairMBs += $rate * $pageSize / 1e6
        Write-Host ("[repair-bench] run {0}: {1} slots damaged; {2} found, {3} repaired from peers in {4:0.00} s: {5:0} pages/s, {6:0.0} MB/s" -f $run, $damaged, $found, $repaired, $secs, $rate, ($rate * $pageSize / 1e6))
        # The scrub's rate: the five undamaged segments' scrubbed slots, two samples $Seconds apart.
        $token = Join-Path $data 'cmd-read.token'
        $sample = {
          $rows = & dotnet $cli $endpoint --token-file $token pg show -g 0 --json | Where-Object { $_.StartsWith('{') } | ForEach-Object { $_ | ConvertFrom-Json }
          [pscustomobject]@{ At = [Diagnostics.Stopwatch]::GetTimestamp(); Pages = ($rows | Where-Object { $_.segment -ne 'pg-0-0' } | Measure-Object -Property 'scrubbed-pages' -Sum).Sum }
        }
        $cacheDropped = (Drop-PageCache) -and $cacheDropped
        $a = & $sample; Start-Sleep -Seconds $gap; $b = & $sample
        $dt = ($b.At - $a.At) / [Diagnostics.Stopwatch]::Frequency
        $perSeg = ($b.Pages - $a.Pages) / 5 / $dt
        $scrubRates += $perSeg; $scrubMBs += $perSeg * $slot / 1e6
        Write-Host ("[repair-bench] run {0}: scrub {1:0} slots/s per segment ({2:0.0} MB/s; five segments, {3:0.0} s)" -f $run, $perSeg, ($perSeg * $slot / 1e6), $dt)
      } finally {
        if (-not $p.HasExited) { & kill -TERM $p.Id; if (-not $p.WaitForExit(60000)) { & kill -9 $p.Id; $p.WaitForExit() } }
        $out.Dispose()
      }
    }
    Write-Host ("[repair-bench] page repair from peers: median {0:0} pages/s ({1:0.0} MB/s) over {2} runs (all: {3})" -f (Get-Median $repairRates), (Get-Median $repairMBs), $Runs, (($repairRates | ForEach-Object { '{0:0}' -f $_ }) -join ', '))
    Write-Host ("[repair-bench] scrub at pages-per-second = {0}: median {1:0} slots/s per segment ({2:0.0} MB/s) (all: {3}); page cache {4}" -f $ScrubRate, (Get-Median $scrubRates), (Get-Median $scrubMBs), (($scrubRates | ForEach-Object { '{0:0}' -f $_ }) -join ', '), $(if ($cacheDropped) { 'dropped before each run and each scrub sample' } else { 'not dropped (no write access to /proc/sys/vm/drop_caches): reads may come from memory' }))
  }
  'cluster-bench' {
    dotnet build ActorDb.sln -c Release | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    $bin = { param($project, $dll) Join-Path $PSScriptRoot "$project/bin/Release/net10.0/$dll" }
    $cli = & $bin 'src/ActorDb.Cli' 'actordb.dll'
    $nodeDll = & $bin 'src/ActorDb.Node' 'actordb-node.dll'
    $lighthouseDll = & $bin 'lighthouse' 'lighthouse.dll'
    $root = Join-Path ([IO.Path]::GetTempPath()) ("actordb-cluster-bench-{0:yyyyMMdd-HHmmss}" -f (Get-Date))
    New-Item -ItemType Directory -Path $root | Out-Null
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
    $system = 'actordb-bench'
    $seed = if ($Insecure) { "akka.tcp://$system@127.0.0.1:$port" } else { "akka.ssl.tcp://$system@127.0.0.1:$port" }
    # Mutual TLS (the default): a CA and one certificate folder per process name, made by `actordb certs`.
    $certs = Join-Path $root 'certs'
    if (-not $Insecure) {
      & dotnet $cli certs --out $certs --nodes 'lighthouse,s0,s1,s2,s3,s4,s5,w1,w2,client' | Out-Null
      if ($LASTEXITCODE -ne 0) { throw "cluster-bench: actordb certs failed" }
    }
    # The TLS environment of process $name (or plain TCP with -Insecure).
    function Tls-Env([string]$name) {
      if ($Insecure) { return @{ ACTORDB__SECURITY__INSECURE = 'on' } } else { return @{ ACTORDB__SECURITY__TLS_DIR = (Join-Path $certs $name) } }
    }
    $procs = [Collections.Generic.List[object]]::new()
    # Every process writes its stdout and stderr to $root/<name>.log; the script waits on lines in those files.
    function Start-Proc([string]$name, [string]$dll, [hashtable]$envs, [string[]]$argv) {
      $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
      $psi.ArgumentList.Add($dll); foreach ($a in $argv) { $psi.ArgumentList.Add($a) }
      $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
      $psi.Environment['DOTNET_gcServer'] = '0'   # ten processes on this machine's cores
      $tlsName = if ($name -match '^(lighthouse|s\d|w\d)') { $Matches[1] } else { 'client' }
      $tls = Tls-Env $tlsName
      foreach ($k in $tls.Keys) { $psi.Environment[$k] = $tls[$k] }
      foreach ($k in $envs.Keys) { $psi.Environment[$k] = $envs[$k] }
      $p = [Diagnostics.Process]::Start($psi)
      # Unbuffered (buffer size 1): a line is in the file as soon as the process wrote it.
      $log = [IO.FileStream]::new((Join-Path $root "$name.log"), 'Append', 'Write', 'ReadWrite', 1)
      $null = $p.StandardOutput.BaseStream.CopyToAsync($log)
      $errLog = [IO.FileStream]::new((Join-Path $root "$name.err"), 'Append', 'Write', 'ReadWrite', 1)
      $null = $p.StandardError.BaseStream.CopyToAsync($errLog)
      $procs.Add($p)
      return $p
    }
    function Read-Log([string]$name) {
      $path = Join-Path $root "$name.log"
      if (-not (Test-Path $path)) { return @() }
      $fs = [IO.File]::Open($path, 'Open', 'Read', 'ReadWrite'); $sr = [IO.StreamReader]::new($fs)
      try { return $sr.ReadToEnd() -split "`n" } finally { $sr.Dispose() }
    }
    function Wait-Line([string]$name, [string]$pattern, [int]$timeoutSec = 90, [int]$skip = 0) {
      $sw = [Diagnostics.Stopwatch]::StartNew()
      while ($sw.Elapsed.TotalSeconds -lt $timeoutSec) {
        $hit = Read-Log $name | Select-Object -Skip $skip | Where-Object { $_ -match $pattern } | Select-Object -First 1
        if ($hit) { return $hit }
        Start-Sleep -Milliseconds 100
      }
      throw "cluster-bench: no line matching '$pattern' in $root/$name.log within $timeoutSec s"
    }
    function Node-Env([string]$roles, [string]$dataDir, [string]$az = '') {
      $e = @{ ACTORSYSTEM = $system; CLUSTER_IP = '127.0.0.1'; CLUSTER_PORT = '0'; CLUSTER_SEEDS = $seed; ACTORDB_ROLES = $roles;
              ACTORDB_DATA_DIR = $dataDir; AKKA__LOGLEVEL = 'INFO'; ACTORDB__CMD__PORT = '0' }
      if ($az) { $e['ACTORDB_AZ'] = $az }
      return $e
    }
    function Kill9($p) { if (-not $p.HasExited) { & kill -9 $p.Id; $p.WaitForExit() } }
    function Report-Line([string]$name, [string]$key) {
      $line = Read-Log $name | Where-Object { $_.StartsWith($key) } | Select-Object -Last 1
      if ($line) { return ($line -split ', ')[-1].Trim() } else { return '?' }
    }
    $results = [Collections.Generic.List[object]]::new()
    # Runs one sysbench bench to its end and adds its throughput and latency line to $results.
    function Run-Sysbench([string]$name, [string[]]$argv) {
      (Start-Proc $name $cli @{} $argv).WaitForExit()
      $results.Add([pscustomobject]@{ Run = $name; CommitsPerSec = (Report-Line $name '[OVERALL], Throughput'); P50us = (Report-Line $name '[TX], 50thPercentileLatency'); P99us = (Report-Line $name '[TX], 99thPercentileLatency') })
    }
    try {
      Write-Host "cluster-bench: starting 1 lighthouse, 6 storage nodes, 2 writer nodes on 127.0.0.1 (logs in $root)"
      $null = Start-Proc 'lighthouse' $lighthouseDll @{ ACTORSYSTEM = $system; CLUSTER_IP = '127.0.0.1'; CLUSTER_PORT = "$port"; ACTORDB__CMD__PORT = '0'; ACTORDB_DATA_DIR = (Join-Path $root 'lighthouse') } @()
      $null = Wait-Line 'lighthouse' "^lighthouse: member Up $([regex]::Escape($seed))"
      $zones = 'az-a', 'az-a', 'az-b', 'az-b', 'az-c', 'az-c'
      $storage = @{}
      for ($i = 0; $i -lt 6; $i++) { $storage[$i] = Start-Proc "s$i" $nodeDll (Node-Env 'storage' (Join-Path $root "s$i") $zones[$i]) @() }
      for ($i = 0; $i -lt 6; $i++) { $null = Wait-Line "s$i" '^actordb-node: started ' }
      $writers = @{}
      # -CachePages N bounds the writers' buffer cache (actordb.writer.buffer-cache-pages), so that in the memory scenario
      # the cache is full before the RSS is sampled and what stays is what the missing segments cost.
      $writerEnv = { param($n) $e = Node-Env 'writer' (Join-Path $root $n); if ($CachePages -gt 0) { $e['ACTORDB__WRITER__BUFFER_CACHE_PAGES'] = "$CachePages" }; $e }
      $writers['w1'] = Start-Proc 'w1' $nodeDll (& $writerEnv 'w1') @()
      $null = Wait-Line 'w1' '^actordb-node: serving'
      $writers['w2'] = Start-Proc 'w2' $nodeDll (& $writerEnv 'w2') @()
      $null = Wait-Line 'w2' '^actordb-node: serving'

      if ($GoneMinutes -gt 0) {
        $w1Pid = $writers['w1'].Id
        function Rss-Mb { $l = Get-Content "/proc/$w1Pid/status" | Where-Object { $_ -match '^VmRSS:\s+(\d+) kB' } | Select-Object -First 1; if ($l -match '(\d+) kB') { [math]::Round([long]$Matches[1] / 1024) } else { -1 } }
        $null = Start-Proc 'gone-load' $cli @{} @('bench', '--workload', (Join-Path $PSScriptRoot 'workloads/ycsb-insert-only'), '-p', 'operationcount=100000000', '--threads', '16', '--seeds', $seed)
        $null = Wait-Line 'gone-load' '^\[bench\] first commit acknowledged' 120
        Start-Sleep -Seconds 120
        $before = Rss-Mb
        if ($NoKill) { Write-Host "cluster-bench: writer w1 RSS $before MB after 120 s of the insert bench; control: no kill, $GoneMinutes min" }
        else {
          Write-Host "cluster-bench: writer w1 RSS $before MB after 120 s of the insert bench; kill -9 of s4 and s5 (az-c) for $GoneMinutes min"
          Kill9 $storage[4]; Kill9 $storage[5]
        }
        $peak = $before; $samples = @()
        $sw = [Diagnostics.Stopwatch]::StartNew()
        while ($sw.Elapsed.TotalMinutes -lt $GoneMinutes) {
          Start-Sleep -Seconds 10
          $now = Rss-Mb; $samples += $now; if ($now -gt $peak) { $peak = $now }
        }
        $ops = Read-Log 'gone-load' | Where-Object { $_ -match '^\[bench\] \d+ s: ' } | Select-Object -Last 1
        $during = if ($NoKill) { "in the $GoneMinutes min (control: none gone)" } else { 'while two segments were gone' }
        Write-Host "cluster-bench: writer RSS before $before MB, highest $during $peak MB (+$($peak - $before)), at the end $($samples[-1]) MB; samples every 10 s: $($samples -join ', ')"
        Write-Host "cluster-bench: last bench progress line: $ops"
        exit 0
      }

      # sysbench-write-only through the cluster, then on the embedded default (cluster idle but up).
      $loads = if ($NoSysbench) { @() } else { $Loads }
      $loaded = $false
      foreach ($t in $loads) {
        $name = "sysbench-cluster-$t"
        $argv = @('bench', '--workload', 'sysbench-write-only', '--threads', "$t", '-p', "maxexecutiontime=$Seconds", '-p', 'operationcount=100000000', '--seeds', $seed)
        if ($loaded) { $argv += '--skip-load' }
        $loaded = $true
        Run-Sysbench $name $argv
      }
      Write-Host ("cluster-bench: links " + $(if ($Insecure) { 'plain TCP (actordb.security.insecure = on)' } else { 'mutual TLS' }))
      if ($NoEmbedded) { $loads = @() }
      foreach ($t in $loads) {
        $name = "sysbench-embedded-$t"
        Run-Sysbench $name @('bench', '--workload', 'sysbench-write-only', '--threads', "$t", '-p', "maxexecutiontime=$Seconds", '-p', 'operationcount=100000000', '--data-dir', (Join-Path $root "embedded-$t"))
      }
      $results | Format-Table -AutoSize | Out-String | Write-Host

      if ($Failovers -le 0) { exit 0 }   # -Failovers 0: the sysbench runs only
      # Failover: kill -9 the active writer (the oldest writer node) under an insert-only bench; the standby recovers.
      $times = @()
      $active = 'w1'; $standby = 'w2'; $restarts = 0
      for ($i = 1; $i -le $Failovers; $i++) {
        $name = "failover-$i"
        $argv = @('bench', '--workload', (Join-Path $PSScriptRoot 'workloads/ycsb-insert-only'), '-p', 'operationcount=100000000', '--threads', '8', '--seeds', $seed)
        if ($i -gt 1) { $argv += @('--skip-load', '-p', "recordcount=$(1000000000L * $i)", '-p', "insertstart=$(1000000000L * $i)") }
        $b = Start-Proc $name $cli @{} $argv
        $null = Wait-Line $name '^\[bench\] first commit acknowledged'
        Start-Sleep -Seconds 5
        $killedAt = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
        Kill9 $writers[$active]
        $ms = $null
        $sw = [Diagnostics.Stopwatch]::StartNew()
        while ($null -eq $ms -and $sw.Elapsed.TotalSeconds -lt 90) {
          foreach ($l in (Read-Log $name)) {
            if ($l -match '^\[bench\] no commit acknowledged for .*\((\d+) ms since the epoch\)' -and [long]$Matches[1] -gt $killedAt) { $ms = [long]$Matches[1] - $killedAt; break }
          }
          Start-Sleep -Milliseconds 200
        }
        if ($null -eq $ms) { throw "cluster-bench: no commit on the new writer within 90 s of failover $i (see $root/$name.log)" }
        $times += $ms
        Write-Host "  failover $i`: kill -9 of $active to the first commit on $standby`: $ms ms"
        & kill -15 $b.Id; if (-not $b.WaitForExit(60000)) { Kill9 $b }   # the bench leaves the cluster cleanly
        # The killed writer node comes back as the new standby.
        $restarts++
        $writers[$active] = Start-Proc "$active-r$restarts" $nodeDll (Node-Env 'writer' (Join-Path $root $active)) @()
        $null = Wait-Line "$active-r$restarts" '^actordb-node: serving'
        $active, $standby = $standby, $active
      }
      $median = ($times | Sort-Object)[[int][Math]::Floor($times.Count / 2)]
      Write-Host "failover (kill -9 of the writer to the first commit on the new writer): median $median ms of $($times.Count): $($times -join ', ') ms"

      if ($NoCatchUp) { exit 0 }
      # Catch-up: a storage node loses its disk and comes back empty; its segment copies pages and records from peers.
      Kill9 $storage[5]
      Remove-Item -Recurse -Force (Join-Path $root 's5')
      $null = Wait-Line 'lighthouse' '^lighthouse: member Removed .*\[az-c,storage' 60
      $storage[5] = Start-Proc 's5-empty' $nodeDll (Node-Env 'storage' (Join-Path $root 's5') 'az-c') @()
      $null = Start-Proc 'catchup-load' $cli @{} @('bench', '--workload', (Join-Path $PSScriptRoot 'workloads/ycsb-insert-only'), '--skip-load', '-p', 'recordcount=9000000000',
                                                    '-p', 'insertstart=9000000000', '-p', 'operationcount=100000000', '--threads', '4', '--seeds', $seed)
      $caught = Wait-Line 's5-empty' 'caught up in epoch' 180
      Write-Host "catch-up of the emptied segment: $($caught.Substring($caught.IndexOf('Segment')))"
    }
    finally {
      foreach ($p in $procs) { try { Kill9 $p } catch { } }
    }
    exit 0
  }
}
exit $LASTEXITCODE
