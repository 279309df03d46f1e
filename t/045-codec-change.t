# The camera behind a URL changes what it sends: restarted on the same
# port with another picture size, then with audio added.  The README: "A
# new resolution or codec gets a new init segment under a new name".
# Each change: EXT-X-DISCONTINUITY, then EXT-X-MAP naming another init
# segment whose tracks are the new ones (ffprobe), the old init still
# served while a segment listed uses it, the status tells the new size
# and codecs.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25, size => '640x360');
our (%Before);

# the camera again on its port with %change; waits for the playlist to
# list two segments after a discontinuity
sub change_camera {
    my ($label, %change) = @_;
    my $pl = parse_playlist(BarHls::Test::wait_for_playlist('/live/ale/index.m3u8', 2, 15));
    $Before{$label} = { pl => $pl, map => $pl && $pl->{segments}[-1]{map},
                        last => $pl && $pl->{segments}[-1]{msn} };
    stop_camera($Cam);
    $Cam = restart_camera($Cam, %change);
    my $last = $Before{$label}{last} // 0;
    my $ok = BarHls::Test::wait_for_playlist('/live/ale/index.m3u8', 2, 30, sub {
        my @s = @{ parse_playlist($_[0])->{segments} };
        my ($d) = grep { $s[$_]{discontinuity} && $s[$_]{msn} > $last } 0 .. $#s;
        return defined $d && $#s - $d >= 1;
    });
    Test::More::ok($ok, "$label: two segments of the changed camera listed");
}

# video and audio of the init segment $map (with the segment $seg)
sub tracks {
    my ($map, $seg) = @_;
    my $r = probe_segment('/live/ale', $map, $seg);
    return join ' ', map { $_->{codec_type} eq 'video' ? "$_->{codec_name}:$_->{width}x$_->{height}"
                                                       : $_->{codec_name} }
                     sort { $a->{codec_type} cmp $b->{codec_type} } @{ $r->{streams} };
}

sub changed_ok {
    my ($name, $label, $body, $tracks, $codecs, $size) = @_;
    my $pl = parse_playlist($body);
    my $b = $Before{$label};
    my @s = @{ $pl->{segments} };
    my ($disc) = grep { $_->{discontinuity} && $_->{msn} > $b->{last} } @s;
    ok($disc, "$name - EXT-X-DISCONTINUITY after seg-$b->{last}.m4s") or return diag($body);
    isnt($disc->{map}, $b->{map}, "$name - a new init segment ($b->{map} -> $disc->{map})");
    like($body, qr/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="\Q$disc->{map}\E"\n/,
         "$name - EXT-X-MAP right after the discontinuity");
    is(tracks($disc->{map}, $s[-1]{uri}), $tracks, "$name - the new init and segments: $tracks");
    my @old = grep { $_->{msn} < $disc->{msn} } @s;
    if (@old) {
        is($old[-1]{map}, $b->{map}, "$name - the segments before keep $b->{map}");
        is(http_get("/live/ale/$b->{map}")->{status}, 200, "$name - the old init is served while listed");
    }
    is(http_get("/live/ale/$disc->{map}")->{status}, 200, "$name - the new init is served");
    my $c = camera_status('ale') || {};
    like("$c->{width}x$c->{height} $c->{codecs}", qr/^\Q$size\E $codecs$/, "$name - the status: $size $codecs");
}

# (the H.264 level in the codecs string is x264's pick for the size)
sub check_size   { changed_ok($_[0]->name, 'size',  $_[1], 'h264:320x180', 'avc1\.42c0[0-9a-f]{2}', '320x180') }
sub check_audio  { changed_ok($_[0]->name, 'audio', $_[1], 'aac h264:320x180', 'avc1\.42c0[0-9a-f]{2},mp4a\.40\.2', '320x180') }

run_tests();

__DATA__

=== TEST 1: a 640x360 camera without audio
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- error_log eval
qr/\[notice\] .*bar_hls: camera "ale": streaming 640x360 avc1\.42c01e$/



=== TEST 2: restarted at 320x180: a new init segment
--- init
main::change_camera('size', size => '320x180');
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: size
--- error_log eval
qr/\[notice\] .*bar_hls: camera "ale": streaming 320x180 avc1\.42c0[0-9a-f]{2}$/



=== TEST 3: restarted with AAC audio: a new init segment with two tracks
--- init
main::change_camera('audio', audio => 'aac');
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: audio
--- error_log eval
qr/\[notice\] .*bar_hls: camera "ale": streaming 320x180 avc1\.42c0[0-9a-f]{2},mp4a\.40\.2$/
