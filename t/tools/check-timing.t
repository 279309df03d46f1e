# Not an nginx test: run-tests proves it beside t/*.t.  BarHls::Timing's
# comparison of playlists with what a camera sent, on a made-up record:
# a camera at 25 fps with 1 s GOPs that dropped one frame before encoding
# once (that GOP spans 1.040 s).  Playlists the module could rightly make
# pass; one with a frame made up (1.040 where the camera sent 1.000), one
# missing a GOP's worth and one cut at no keyframe fail.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Timing ();
use File::Temp ();
use Test::More;

require BarHls::Test;

my $dir = File::Temp::tempdir('bar-hls-timing-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $file = "$dir/frames.csv";
open my $fh, '>', $file or die "$file: $!";
my $wall = 1_800_000_000;
# 12 GOPs of 25 frames; the 6th GOP has a frame slot missing (x264enc
# dropped a late frame: 25 frames over 26 slots)
my ($t, @keys) = (0);
for my $g (0 .. 11) {
    push @keys, $t;
    for my $f (0 .. 24) {
        printf $fh "%.3f,%.6f,%s\n", $wall + $t, $t, $f == 0 ? 'K_' : '__';
        $t += ($g == 5 && $f == 10) ? 0.08 : 0.04;
    }
}
close $fh;
my $cam = { frames_file => $file, port => 0 };

sub pl {
    my ($first, @durs) = @_;
    my ($pdt, @segs) = ($wall + $keys[$first]);
    for my $i (0 .. $#durs) {
        push @segs, { uri => "seg-$i.m4s", duration => $durs[$i], pdt => $pdt };
        $pdt += $durs[$i];
    }
    return { target => 1, segments => \@segs };
}

# expect: 1 pass, 0 fail; run in a subtest so that the failures expected
# are not this file's
sub expect {
    my ($want, $what, $pl, $segment) = @_;
    my $ok;
    my $tb = Test::More->builder;
    {
        local $Test::Builder::Level = $Test::Builder::Level + 1;
        # a private builder: the inner result is only returned
        my $inner = Test::Builder->create;
        $inner->output(\my $out);
        $inner->failure_output(\my $err);
        $inner->todo_output(\my $todo);
        $inner->plan('no_plan');
        no warnings 'redefine';
        local *Test::More::ok = sub { $ok = $_[0] ? 1 : 0; $inner->ok(@_) };
        local *Test::More::diag = sub { $inner->diag(@_) };
        local $BarHls::Timing::Wait = 0;
        BarHls::Timing::camera_segments_ok($what, $cam, $pl, segment => $segment);
    }
    is($ok, $want, ($want ? 'passes: ' : 'fails: ') . $what);
}

expect(1, 'EXTINFs of 1.000 s, segment=1s', pl(1, 1.000, 1.000, 1.000), 1);
expect(1, 'the GOP the camera stretched: 1.040 s where it sent 1.040', pl(4, 1.000, 1.040, 1.000), 1);
expect(1, '2 s segments over the stretched GOP: 2.040', pl(4, 2.040, 2.000), 2);
expect(1, 'a segment cut short by the end of a session', do {
    my $p = pl(1, 1.000, 0.480, 1.000);
    $p->{segments}[2]{discontinuity} = 1;
    $p->{segments}[2]{pdt} = $wall + $keys[7];
    $p }, 1);
expect(0, 'a frame made up: 1.040 where the camera sent 1.000', pl(1, 1.040, 1.000, 1.000), 1);
expect(0, 'the stretched GOP missed: 1.000 where the camera sent 1.040', pl(4, 1.000, 1.000, 1.000), 1);
expect(0, 'a segment of 1.500 s: cut at no keyframe', pl(1, 1.000, 1.500), 1);
expect(0, '2 s segments with a 1 s one among them', pl(1, 2.000, 1.000, 2.000), 2);
expect(0, 'no segment at all', { target => 1, segments => [] }, 1);

# frame counts in the camera's spans
is(BarHls::Timing::camera_span_frames($cam, $keys[5], $keys[6]), 25, 'the stretched GOP holds 25 frames');
is(BarHls::Timing::camera_span_keys($cam, $keys[0], $keys[4]), 4, '4 keyframes in 4 GOPs');
ok(BarHls::Timing::camera_gap_in($cam, $keys[5], $keys[6]) > 0.079, 'the dropped frame is a gap of 80 ms');

done_testing();
