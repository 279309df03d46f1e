# P<cam>/snapshot.jpg: a JPEG of the camera's picture, decoded by
# ffprobe at the camera's size (and at the widths asked for, of fMP4 and
# MPEG-TS variants, of H.264 and, where the fake camera makes it, H.265),
# delivered like the media (ETag, 304, a second of max-age, CORS),
# changing as the scene does; made once a second for the whole nginx however many
# clients ask of whichever worker (every worker serves the same bytes
# for a generation); kept while the camera is offline, with its age; a
# 503 before the camera ever sent a keyframe.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
master_on();
workers(2);
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25);
our $Other = start_camera(env => 'TEST_NGINX_OTHER_PORT', gop => 25, size => '320x240');
$ENV{TEST_NGINX_LATE_PORT} = free_port();

# H.265, where the fake camera makes it
our $Hevc = `${\ repo_root()}/scripts/fake-camera --help 2>&1` =~ /h265/
    ? start_camera(env => 'TEST_NGINX_HEVC_PORT', codec => 'h265', gop => 25) : undef;
$ENV{TEST_NGINX_HEVC_PORT} //= free_port();

# [width, height] of a JPEG (ffprobe), or ()
sub jpeg_size {
    my ($data) = @_;
    my $fh = File::Temp->new(SUFFIX => '.jpg');
    binmode $fh;
    print $fh $data;
    close $fh;
    my ($rc, $out) = BarHls::Test::run_cmd(['ffprobe', '-v', 'error', '-select_streams', 'v:0',
                                           '-show_entries', 'stream=codec_name,width,height',
                                           '-of', 'csv=p=0', $fh->filename], 20);
    return $rc == 0 && $out =~ /^mjpeg,(\d+),(\d+)/ ? ($1, $2) : ();
}

# the grey levels of a JPEG (scaled to $size), as a string of bytes
sub jpeg_gray {
    my ($data, $size) = @_;
    my $fh = File::Temp->new(SUFFIX => '.jpg');
    binmode $fh;
    print $fh $data;
    close $fh;
    my ($rc, $out) = BarHls::Test::run_cmd(['ffmpeg', '-nostdin', '-v', 'error', '-i', $fh->filename,
                                           '-vf', 'scale=' . ($size // '64:36'),
                                           '-f', 'rawvideo',
                                           '-pix_fmt', 'gray', '-'], 20);
    return $rc == 0 ? $out : '';
}

sub snapshot {
    my ($path, %o) = @_;
    return http_get($path, %o);
}

sub metric {
    my ($name) = @_;
    my $text = http_get('/metrics')->{content} // '';
    return $text =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

sub check_picture {
    my ($block) = @_;
    my $name = $block->name;
    my $full = snapshot('/live/ale/snapshot.jpg');
    is($full->{status}, 200, "$name - 200");
    is($full->{headers}{'content-type'}, 'image/jpeg', "$name - image/jpeg");
    is_deeply([jpeg_size($full->{content})], [640, 360], "$name - a JPEG of 640x360, as the camera");
    my $gray = jpeg_gray($full->{content});
    my %levels = map { $_ => 1 } unpack 'C*', $gray;
    ok(keys %levels > 20, "$name - not blank (" . scalar(keys %levels) . ' grey levels)');
    is($full->{headers}{'cache-control'}, 'public, max-age=1', "$name - a second in caches");
    like($full->{headers}{etag} // '', qr/^"j[0-9a-f]{16}"$/, "$name - ETag");
    ok($full->{headers}{'last-modified'}, "$name - Last-Modified");
    like($full->{headers}{'snapshot-age'} // '', qr/^[0-2]$/, "$name - Snapshot-Age 0 to 2 s");
    like($full->{headers}{'snapshot-generation'} // '', qr/^\d+$/, "$name - Snapshot-Generation");
    is($full->{headers}{'access-control-allow-origin'}, '*', "$name - CORS");

    my $small = snapshot('/live/ale/snapshot.jpg?width=320');
    is($small->{status}, 200, "$name - width=320: 200");
    is_deeply([jpeg_size($small->{content})], [320, 180], "$name - width=320: 320x180");
    ok(length($small->{content}) < length($full->{content}), "$name - width=320: smaller ("
       . length($small->{content}) . ' bytes)');
    my $tiny = snapshot('/live/ale/snapshot.jpg?width=160');
    is_deeply([jpeg_size($tiny->{content})], [160, 90], "$name - width=160: 160x90");
    my $big = snapshot('/live/ale/snapshot.jpg?width=1280');
    is_deeply([jpeg_size($big->{content})], [640, 360],
              "$name - width=1280 of a 640 wide camera: the full picture");
    for my $bad ('width=321', 'width=0640', 'width=-1', 'size=320', 'width=320&x=1') {
        my $res = snapshot("/live/ale/snapshot.jpg?$bad");
        is($res->{status}, 400, "$name - ?$bad: 400");
    }
    my $other = snapshot('/live/other/snapshot.jpg');
    is_deeply([jpeg_size($other->{content})], [320, 240], "$name - another camera, its own size");
    my $ts = snapshot('/live/ts/snapshot.jpg');
    is_deeply([jpeg_size($ts->{content})], [640, 360], "$name - variant=mpegts: 640x360");
    is(snapshot('/live/nosuch/snapshot.jpg')->{status}, 404, "$name - unknown camera: 404");
    my $head = snapshot('/live/ale/snapshot.jpg', method => 'HEAD');
    is($head->{status}, 200, "$name - HEAD: 200");

    # a conditional GET of what did not change, within its second
    my ($hit, $n) = (0, 0);
    for (1 .. 5) {
        my $a = snapshot('/live/ale/snapshot.jpg');
        my $b = snapshot('/live/ale/snapshot.jpg',
                         headers => { 'If-None-Match' => $a->{headers}{etag} });
        $n++;
        $hit++ if $b->{status} == 304;
        last if $hit;
    }
    ok($hit, "$name - If-None-Match: 304 ($hit of $n)");
    my $range = snapshot('/live/ale/snapshot.jpg', headers => { Range => 'bytes=0-1' });
    is($range->{status}, 206, "$name - a range: 206");
    is($range->{content}, "\xff\xd8", "$name - the JPEG's first bytes");
}

# the fake camera's picture moves (and shows the clock): so do snapshots
sub check_changes {
    my ($block) = @_;
    my $name = $block->name;
    my $a = snapshot('/live/ale/snapshot.jpg');
    sleep 2.5;
    my $b = snapshot('/live/ale/snapshot.jpg');
    is($a->{status} . $b->{status}, '200200', "$name - two snapshots");
    ok($b->{headers}{'snapshot-generation'} > $a->{headers}{'snapshot-generation'},
       "$name - a newer generation ($a->{headers}{'snapshot-generation'} then "
       . "$b->{headers}{'snapshot-generation'})");
    isnt($b->{headers}{etag}, $a->{headers}{etag}, "$name - another ETag");
    # the test pattern's noise and the clock burnt in change, the bars do not
    my ($ga, $gb) = (jpeg_gray($a->{content}, '640:360'), jpeg_gray($b->{content}, '640:360'));
    my @a = unpack 'C*', $ga;
    my @b = unpack 'C*', $gb;
    my $diff = grep { abs($a[$_] - $b[$_]) > 32 } 0 .. $#a;
    ok(@a == 640 * 360 && $diff > 1000, "$name - another picture ($diff of "
                                         . scalar(@a) . ' pixels changed)');
}

# many clients of both workers for a while: one picture a second, the
# same bytes everywhere for each generation
sub check_generations {
    my ($block) = @_;
    my $name = $block->name;
    snapshot('/live/ale/snapshot.jpg');
    my $g0 = metric('bar_hls_snapshots_total{camera="ale"}');
    my $secs = 6;
    my $dir = File::Temp::tempdir('bar-hls-snap-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @kids;
    for my $k (1 .. 6) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $end = time + $secs;
            open my $out, '>', "$dir/$k" or POSIX::_exit(1);
            while (time < $end) {
                my $res = http_get('/live/ale/snapshot.jpg');
                printf $out "%s %s %s %s\n", $res->{status},
                    $res->{headers}{'snapshot-generation'} // '-',
                    $res->{headers}{'x-worker'} // '-', md5_hex($res->{content});
                sleep 0.05;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    my $g1 = metric('bar_hls_snapshots_total{camera="ale"}');
    my (%by_gen, %pids, $n, $bad);
    for my $k (1 .. 6) {
        open my $in, '<', "$dir/$k" or next;
        while (my $line = <$in>) {
            my ($status, $gen, $pid, $md5) = split ' ', $line;
            $n++;
            $bad++ if $status != 200;
            $by_gen{$gen}{md5}{$md5}++;
            $by_gen{$gen}{pid}{$pid}++;
            $pids{$pid}++;
        }
    }
    ok($n > 6 * $secs, "$name - $n requests in ${secs} s");
    ok(!$bad, "$name - all answered 200") or diag("$bad not");
    is(scalar(keys %pids), 2, "$name - by both workers (" . join(', ', sort keys %pids) . ')');
    my @mixed = grep { keys %{ $by_gen{$_}{md5} } != 1 } keys %by_gen;
    ok(!@mixed, "$name - one picture per generation, whichever worker served it")
        or diag(join ' ', @mixed);
    my @shared = grep { keys %{ $by_gen{$_}{pid} } == 2 } keys %by_gen;
    ok(@shared >= 2, "$name - generations served by both workers: " . scalar(@shared));
    my $made = $g1 - $g0;
    ok($made >= $secs - 2 && $made <= $secs + 2,
       "$name - $made snapshots made in ${secs} s for $n requests (one a second)");
    diag("measure: $made snapshots in $secs s for $n requests by 2 workers");
    ok(keys %by_gen <= $made + 1, "$name - as many generations seen ("
                                  . scalar(keys %by_gen) . ')');
    is(metric('bar_hls_snapshots_total{camera="other"}'), 0,
       "$name - none made of a camera nobody asked for");
}

# the camera goes: its last picture stays, older and older
sub check_offline {
    my ($block) = @_;
    my $name = $block->name;
    my $a = snapshot('/live/other/snapshot.jpg');
    is($a->{status}, 200, "$name - a picture while it streams");
    stop_camera($Other);
    my $off = wait_until(20, 0.2, sub {
        my $st = http_get('/metrics')->{content} // '';
        return $st =~ /^bar_hls_camera_state\{camera="other",state="(backoff|connecting)"\} 1$/m;
    });
    ok($off, "$name - the camera is offline");
    my $t = time;
    my $b = snapshot('/live/other/snapshot.jpg');
    sleep 2.2;
    my $c = snapshot('/live/other/snapshot.jpg');
    is($c->{status}, 200, "$name - still 200 while offline");
    is_deeply([jpeg_size($c->{content})], [320, 240], "$name - the last picture");
    is($c->{headers}{etag}, $b->{headers}{etag}, "$name - the same one");
    ok($c->{headers}{'snapshot-age'} >= $b->{headers}{'snapshot-age'} + 2,
       "$name - Snapshot-Age grows ($b->{headers}{'snapshot-age'} s, then "
       . "$c->{headers}{'snapshot-age'} s)");
    is($c->{headers}{'snapshot-generation'}, $b->{headers}{'snapshot-generation'},
       "$name - no new generation");
}

# nothing from the camera yet: 503, then a picture once it streams
sub check_late {
    my ($block) = @_;
    my $name = $block->name;
    my $res = snapshot('/live/late/snapshot.jpg');
    is($res->{status}, 503, "$name - before the camera ever sent a keyframe: 503");
    is($res->{headers}{'retry-after'}, '1', "$name - Retry-After: 1");
    is($res->{headers}{'cache-control'}, 'no-store', "$name - not cached");
    start_camera(port => $ENV{TEST_NGINX_LATE_PORT}, gop => 25);
    my $t0 = time;
    my $ok = wait_until(40, 0.3, sub {
        my $r = snapshot('/live/late/snapshot.jpg');
        return $r->{status} == 200 ? $r : undef;
    });
    ok($ok, sprintf "$name - a picture once the camera streams (%.1f s)", time - $t0);
    is_deeply([jpeg_size($ok ? $ok->{content} : '')], [640, 360], "$name - of its size");
}

sub check_hevc {
    my ($block) = @_;
    my $name = $block->name;
    if (!$Hevc) {
        pass("$name - SKIP: the fake camera makes no H.265");
        return;
    }
    my $res = wait_until(30, 0.3, sub {
        my $r = snapshot('/live/hevc/snapshot.jpg');
        return $r->{status} == 200 ? $r : undef;
    });
    ok($res, "$name - a snapshot of an H.265 camera");
    is_deeply([jpeg_size($res ? $res->{content} : '')], [640, 360], "$name - 640x360");
    my %levels = map { $_ => 1 } unpack 'C*', jpeg_gray($res ? $res->{content} : '');
    ok(keys %levels > 20, "$name - not blank");
}

run_tests();

__DATA__

=== TEST 1: a JPEG of the camera's size, and of the widths asked for
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
bar_hls_camera other rtsp://127.0.0.1:$TEST_NGINX_OTHER_PORT/stream1;
bar_hls_camera ts rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 variant=mpegts part=off segment=1s;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
BarHls::Test::wait_playlist_ok('/live/other/index.m3u8', 1, 15);
--- request
GET /live/ale/snapshot.jpg
--- response_headers
Content-Type: image/jpeg
--- bar_check: picture
--- no_error_log
[error]
[warn]



=== TEST 2: the picture changes as the scene does
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
--- request
GET /live/ale/snapshot.jpg
--- bar_check: changes
--- no_error_log
[error]



=== TEST 3: once a second for the whole nginx, the same bytes from every worker
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
bar_hls_camera other rtsp://127.0.0.1:$TEST_NGINX_OTHER_PORT/stream1;
--- config
location /live/ {
    bar_hls;
    add_header X-Worker $pid always;
}
location = /metrics {
    bar_hls_metrics;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
--- request
GET /live/ale/snapshot.jpg
--- bar_check: generations
--- no_error_log
[error]



=== TEST 4: the camera offline: its last picture, older and older
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera other rtsp://127.0.0.1:$TEST_NGINX_OTHER_PORT/stream1 timeout=2s;
--- config
location /live/ {
    bar_hls;
}
location = /metrics {
    bar_hls_metrics;
}
--- init
BarHls::Test::wait_playlist_ok('/live/other/index.m3u8', 1, 15);
--- request
GET /live/other/snapshot.jpg
--- bar_check: offline



=== TEST 5: 503 before the camera ever sent a keyframe
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera late rtsp://127.0.0.1:$TEST_NGINX_LATE_PORT/stream1 timeout=2s;
--- config
location /live/ {
    bar_hls;
}
--- request
GET /live/late/snapshot.jpg
--- error_code: 503
--- bar_check: late



=== TEST 6: an H.265 camera's snapshot
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera hevc rtsp://127.0.0.1:$TEST_NGINX_HEVC_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
--- request
GET /live/nosuch/snapshot.jpg
--- error_code: 404
--- bar_check: hevc
