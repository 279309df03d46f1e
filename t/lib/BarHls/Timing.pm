package BarHls::Timing;

# What a fake camera really sent, to compare the module's output with:
# start_camera(record => 1) starts a recorder next to the camera, one more
# RTSP client (ffprobe, TCP) that writes the time stamp and key flag of
# every video packet it receives to the camera's directory for as long
# as the camera runs.  The camera's pipeline is shared by all its
# clients, so the recorder sees the frames nginx sees: when the camera
# drops or re-times a frame (x264enc drops late frames under load, which
# stretches a GOP of 25 frames over 26 frame slots), the recorder sees it
# too, and the checks below expect what the camera sent, not nominal
# values.  A frame the module made up, lost or moved still fails them.
#
# The recorder's time stamps start from its own session, nginx's from
# another: only differences are compared.  A playlist's segments are
# matched against the camera's keyframes by simulating the module's cut
# rule (a segment ends at the first keyframe at least 90 % of the segment
# target after its start) from every keyframe the camera sent.
#
# The recorder counts in the camera's --stats "current" and "max"; only
# files that do not count sessions use it.

use strict;
use warnings;

use Exporter 'import';
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    camera_frames camera_frame_interval camera_segments_ok camera_span_frames
    camera_span_keys camera_gap_in
);

# EXTINF and part durations are microseconds truncated to milliseconds.
my $Ms = 0.001 + 1e-6;

our $Probe;

# seconds camera_segments_ok() waits for the recorder to catch up
our $Wait = 5;

sub start_recorder {
    my ($cam) = @_;
    my $o = $cam->{opts} || {};
    my $auth = ($o->{auth} // 'none') eq 'none' ? ''
             : sprintf '%s:%s@', $o->{user} // 'admin', $o->{password} // 'secret';
    my $url = sprintf 'rtsp://%s127.0.0.1:%d%s', $auth, $cam->{port}, $o->{path} // '/stream1';
    my $out = "$cam->{dir}/frames.csv";
    my @cmd = ('stdbuf', '-oL', 'ffprobe', '-v', 'error', '-rtsp_transport', 'tcp',
               '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags',
               '-of', 'csv=p=0', $url);
    # a reader stamps every line with the wall clock it arrived at
    my $pid = fork;
    die "BarHls::Timing: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        BarHls::Test::die_with_parent();
        $SIG{TERM} = sub { kill 'TERM', $Probe if $Probe; POSIX::_exit(0) };
        open STDIN, '<', '/dev/null';
        open STDERR, '>>', "$cam->{dir}/recorder.log";
        open my $fh, '>', $out or POSIX::_exit(126);
        $fh->autoflush(1);
        $Probe = open my $in, '-|', @cmd or POSIX::_exit(127);
        while (my $line = <$in>) {
            printf $fh "%.3f,%s", time, $line;
        }
        POSIX::_exit(0);
    }
    $cam->{recorder} = $pid;
    $cam->{probes}++;           # not one of nginx's sessions in "total"
    $cam->{frames_file} = $out;
    # its first keyframe: the camera serves it, the recorder reads it
    my $ok = BarHls::Test::wait_until(15, 0.1, sub {
        return -1 if waitpid($pid, WNOHANG) == $pid;
        return scalar @{ camera_frames($cam)->{keys} } >= 1;
    });
    die "BarHls::Timing: the recorder of the camera on port $cam->{port} saw no keyframe: "
        . (BarHls::Test::slurp("$cam->{dir}/recorder.log") // '') . "\n"
        unless $ok && $ok > 0;
    return $pid;
}

sub stop_recorder {
    my ($cam) = @_;
    my $pid = delete $cam->{recorder} or return;
    kill 'TERM', $pid;
    my $gone = BarHls::Test::wait_until(5, 0.05, sub { waitpid($pid, WNOHANG) == $pid });
    if (!$gone) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
}

# { times => [distinct video time stamps, ascending], keys => [those of
# keyframes], wall => { time stamp => epoch seconds it arrived } } as
# recorded so far.  Pieces of one frame (sliced frames
# arrive as several packets with one time stamp) count once; the
# untimed packets of a session's start are left out.
sub camera_frames {
    my ($cam) = @_;
    my $text = BarHls::Test::slurp($cam->{frames_file} // '') // '';
    my (%t, %k);
    for (split /\n/, $text) {
        my ($wall, $pts, $flags) = /^([\d.]+),(-?\d+\.\d+),([K_])/ or next;
        $t{$pts} //= $wall;
        $k{$pts} = 1 if $flags eq 'K';
    }
    my @times = sort { $a <=> $b } keys %t;
    my @keys = sort { $a <=> $b } keys %k;
    return { times => \@times, keys => \@keys, wall => \%t };
}

# the camera's usual frame interval (the median), seconds
sub camera_frame_interval {
    my ($cam) = @_;
    my $t = camera_frames($cam)->{times};
    my @d = sort { $a <=> $b } map { $t->[$_] - $t->[$_ - 1] } 1 .. $#$t;
    return @d ? $d[@d / 2] : undef;
}

# frames / keyframes the camera sent in [start, end)
sub span_count {
    my ($list, $start, $end) = @_;
    return scalar grep { $_ >= $start - 1e-6 && $_ < $end - 1e-6 } @$list;
}

sub camera_span_frames { span_count(camera_frames($_[0])->{times}, $_[1], $_[2]) }
sub camera_span_keys   { span_count(camera_frames($_[0])->{keys}, $_[1], $_[2]) }

# the longest interval between two frames the camera sent that overlaps
# [start, end)
sub camera_gap_in {
    my ($cam, $start, $end) = @_;
    my $t = camera_frames($cam)->{times};
    my $gap = 0;
    for my $i (1 .. $#$t) {
        next if $t->[$i] <= $start + 1e-6 || $t->[$i - 1] >= $end - 1e-6;
        my $d = $t->[$i] - $t->[$i - 1];
        $gap = $d if $d > $gap;
    }
    return $gap;
}

# Matches a run of consecutive segments ([duration, cut_short, uri],
# ...) against the keyframes: the spans ([start, end] in camera time) of
# the run of keyframes that gives exactly these durations, or undef.
# cut_short: the segment may end early (its session ended).  With
# regular GOPs many runs match: the one whose first keyframe reached the
# recorder nearest to $pdt (the first segment's PROGRAM-DATE-TIME, the
# wall clock at which nginx got it) wins, if nearer than half a GOP (a
# run of the same durations elsewhere in the camera's past is not these
# segments).  Returns (spans, PDT - arrival) or (undef, the offset of the
# nearest run that matched too far away).
sub match_run {
    my ($frames, $durs, $target, $pdt) = @_;
    my $keys = $frames->{keys};
    my $min = 0.9 * $target - 1e-6;
    my @gop = sort { $a <=> $b } map { $keys->[$_] - $keys->[$_ - 1] } 1 .. $#$keys;
    my $near = @gop ? $gop[@gop / 2] / 2 : 0.5;
    my ($best, $dist);
    START:
    for my $i (0 .. $#$keys) {
        my ($a, @spans) = ($i);
        for my $d (@$durs) {
            my $b = $a + 1;
            $b++ while $b <= $#$keys && $keys->[$b] - $keys->[$a] < $min;
            next START if $b > $#$keys;
            my $want = $keys->[$b] - $keys->[$a];
            my $ok = $d->[1] ? $d->[0] <= $want + $Ms : abs($d->[0] - $want) <= $Ms;
            next START unless $ok;
            push @spans, [$keys->[$a], $d->[1] ? $keys->[$a] + $d->[0] : $keys->[$b]];
            $a = $b;
        }
        return (\@spans) unless defined $pdt;
        my $x = $pdt - $frames->{wall}{ $keys->[$i] };
        ($best, $dist) = (\@spans, $x) if !defined $dist || abs($x) < abs($dist);
    }
    return (undef, $dist) if defined $dist && abs($dist) >= $near;
    return ($best, $dist);
}

# camera_segments_ok($name, $cam, $playlist (parse_playlist / parse_ll),
# segment => target seconds): one test, "every EXTINF is what the camera
# sent": each run of segments between discontinuities must be a run of
# the camera's GOPs, cut as the module cuts.  Returns { uri => [start,
# end] } in camera time, for camera_span_frames() and friends.  Waits up
# to 5 s for the recorder to catch up with the newest segment.
sub camera_segments_ok {
    my ($name, $cam, $pl, %o) = @_;
    my $target = $o{segment} // $pl->{target};
    my @segs = grep { defined $_->{duration} } @{ $pl->{segments} };
    my @runs = ([]);
    for my $i (0 .. $#segs) {
        push @runs, [] if $segs[$i]{discontinuity} && @{ $runs[-1] };
        my $short = $i < $#segs && $segs[$i + 1]{discontinuity} ? 1 : 0;
        push @{ $runs[-1] }, [$segs[$i]{duration}, $short, $segs[$i]{uri}, $segs[$i]{pdt}];
    }
    my (%spans, @bad, @offsets, $frames);
    my $deadline = time + $Wait;
    for my $run (grep { @$_ } @runs) {
        my ($m, $off);
        while (1) {
            $frames = camera_frames($cam);
            ($m, $off) = match_run($frames, $run, $target, $run->[0][3]);
            last if $m || time > $deadline;
            sleep 0.25;
        }
        if ($m) {
            $spans{ $run->[$_][2] } = $m->[$_] for 0 .. $#$run;
            push @offsets, sprintf '%+.3f', $off if defined $off;
        } else {
            push @bad, join(' ', map { "$_->[2]:$_->[0]" } @$run)
                       . (defined $off ? sprintf(' (the same durations only %+.3f s from its PDT)', $off) : '');
        }
    }
    my $k = $frames ? $frames->{keys} : [];
    my %gops;
    $gops{ sprintf '%.3f', $k->[$_] - $k->[$_ - 1] }++ for 1 .. $#$k;
    my $seen = join ', ', map { "${_}s x$gops{$_}" } sort keys %gops;
    Test::More::ok(@segs && !@bad,
                   "$name - every EXTINF is what the camera sent ($target s target; camera's GOPs: $seen;"
                   . " PDT - arrival at the recorder: @offsets s)")
        or Test::More::diag(@segs ? "no run of the camera's keyframes gives: @bad" : 'no segment');
    return \%spans;
}

1;
