package BarHls::Sync;

# Audio/video sync as a viewer sees it, from the picture and the sound:
# scripts/fake-camera --sync-marks flips its picture from black to white
# (or back) every 50 frames, every other second at 25 fps (the only rate
# at which the flips fall on seconds), and ticks (50 ms of 1 kHz) every
# second.
# ffmpeg decodes a stream (the camera's RTSP, or an HLS playlist) with its
# timestamps; the time of each flip (the first frame on the other side of
# mid-grey) and of each tick (the first 5 ms above -30 dBFS after 200 ms
# of quiet) are taken, and each flip is paired with the tick within half
# a second of it.
#
#     my $r = BarHls::Sync::measure($url, $seconds);
#     # { offsets => [tick - flip, ...] (seconds), flips => N, ticks => N,
#     #   rc => ffmpeg's exit code, err => its stderr when it failed }
#
# The camera has an offset of its own (its audio and video sources start
# at different instants); what a server does to sync is the difference
# between the offsets through it and straight from the camera.

use strict;
use warnings;

use BarHls::Test ();

my $FILTER = '[0:v]scale=8:8,format=gray,showinfo[v];'
           . '[0:a]aresample=48000,asetnsamples=n=240:p=0,'
           . 'astats=metadata=1:reset=1,'
           . 'ametadata=mode=print:key=lavfi.astats.Overall.RMS_level[a]';

sub measure {
    my ($url, $secs) = @_;
    my @input = $url =~ m{^rtsp://} ? ('-rtsp_transport', 'tcp') : ();
    my ($rc, undef, $err) = BarHls::Test::run_cmd(
        ['ffmpeg', '-nostdin', '-v', 'info', @input, '-t', $secs,
         '-i', @input ? $url : BarHls::Test::nginx_url($url),
         '-filter_complex', $FILTER,
         '-map', '[v]', '-f', 'null', '-', '-map', '[a]', '-f', 'null', '-'],
        $secs + 40);

    my (@video, @audio, $t);
    for my $line (split /\n/, $err // '') {
        if ($line =~ /Parsed_showinfo.*pts_time:\s*([\d.]+).*?mean:\[(\d+)/) {
            push @video, [$1, $2];
        } elsif ($line =~ /Parsed_ametadata.*pts_time:\s*([\d.]+)/) {
            $t = $1;
        } elsif (defined $t && $line =~ /RMS_level=(-?[\d.]+|-?inf)/) {
            push @audio, [$t, $1 =~ /inf/ ? -200 : $1];
            undef $t;
        }
    }

    my @flips = map { $video[$_][0] }
                grep { ($video[$_ - 1][1] < 128) != ($video[$_][1] < 128) }
                1 .. $#video;
    my ($quiet, @ticks) = (0);
    for my $a (@audio) {
        if ($a->[1] > -30) {
            push @ticks, $a->[0] if $quiet >= 0.2;
            $quiet = 0;
        } else {
            $quiet += 0.005;
        }
    }

    my @offsets;
    for my $f (@flips) {
        my ($near) = sort { abs($a - $f) <=> abs($b - $f) } @ticks;
        push @offsets, $near - $f if defined $near && abs($near - $f) < 0.5;
    }

    return { offsets => \@offsets, flips => scalar @flips,
             ticks => scalar @ticks, rc => $rc,
             err => $rc ? $err : '' };
}

# median of a list of numbers, or undef
sub median {
    my @s = sort { $a <=> $b } @_;
    return @s ? $s[$#s / 2] : undef;
}

1;
