# perf report lines "  1.23%  [.] <symbol>": self CPU summed by the managed assembly a JIT-compiled frame belongs to,
# the kernel, and native code.
if (/^\s+([\d.]+)%\s+\[(.)\]\s+(.*)$/) {
  my ($p, $k, $s) = ($1, $2, $3); my $g;
  if ($k eq "k") { $g = "kernel" }
  elsif ($s =~ /\[([^\]]+)\] [^ \[]+(?:\[[^\]]*\])*::/) { $g = $1 }
  elsif ($s =~ /^0x/) { $g = "native, unresolved (the runtime: libcoreclr)" }
  else { $g = "native: " . (split / /, $s)[0] }
  $sum{$g} += $p;
}
END { printf "%6.2f %%  %s\n", $sum{$_}, $_ for (sort { $sum{$b} <=> $sum{$a} } keys %sum)[0..24] }
