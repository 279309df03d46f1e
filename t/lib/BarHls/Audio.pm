package BarHls::Audio;

# The fake camera's tone (scripts/fake-camera: 1 kHz at half the full
# scale) in the audio of a live playlist, as ffmpeg decodes it:
#
#     my $r = BarHls::Audio::tone($path, $seconds);
#     # { rc, err, seconds, rms (dBFS), peak (dBFS), hz, windows,
#     #   good (100 ms windows within 1 dB of the tone's RMS) }
#
# From the second listed segment on, its first half second left out: AAC
# decoded from the middle of a stream starts with a transient (its first
# frame overlaps one that was not sent).  Not from the first: that may be
# the first segment of the camera's session, whose audio begins where the
# camera's audio was first timed, after the video (seen: 0.5 s, and 1.1 s
# by what ffmpeg gave), and ffmpeg's -t counts from the earliest stream
# (6.9 s of the 8 asked for).

use strict;
use warnings;

use BarHls::Test ();

our $TONE_RMS = -9.03;
our $TONE_PEAK = -6.02;

sub tone {
    my ($path, $secs) = @_;
    my ($rc, $pcm, $err) = BarHls::Test::run_cmd(
        ['ffmpeg', '-nostdin', '-v', 'error', '-live_start_index', 1, '-i',
         BarHls::Test::nginx_url($path), '-t', $secs + 0.5, '-vn', '-ac', 1,
         '-ar', 48000, '-f', 's16le', '-'], $secs + 40);
    my @x = unpack 's<*', $pcm // '';
    splice @x, 0, 24000;
    my ($sum, $peak, $cross, $win, $good, $wins) = (0, 0, 0, 0, 0, 0);
    for my $i (0 .. $#x) {
        my $v = $x[$i] / 32768;
        $sum += $v * $v;
        $win += $v * $v;
        $peak = abs $v if abs $v > $peak;
        $cross++ if $i > 0 && ($x[$i - 1] < 0) != ($x[$i] < 0);
        if (($i + 1) % 4800 == 0) {
            $wins++;
            $good++ if abs(db($win / 4800) - $TONE_RMS) < 1;
            $win = 0;
        }
    }
    my $n = @x || 1;
    return { rc => $rc, err => $err, seconds => $n / 48000,
             rms => db($sum / $n), peak => 2 * db($peak), windows => $wins,
             good => $good, hz => $cross / 2 / ($n / 48000) };
}

sub db { 10 * log($_[0] + 1e-12) / log(10) }

1;
