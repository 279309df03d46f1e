# Hostile requests on a live camera: path traversal, NUL bytes, overlong
# names and URIs, unknown files, non-canonical numbers, stray query
# strings, and a few hundred seeded random mutations.  Every one is
# refused (400/404, 414 for a URI beyond nginx's header buffers), never a
# crash, and the camera keeps streaming.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Http;
use Test::Nginx::Socket 'no_plan';

# a master: a crashing worker is noticed ("exited on signal") and logged
master_on();
workers(1);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25);

# the names on the live playlist now: (last complete msn, init crc, a
# listed part's number).  The refusals of non-canonical names below prove
# something only when the canonical names are served: they are fetched
# first (200), and a camera without media fails here instead of passing
# every 404.
sub live {
    my ($name) = @_;
    my $res = http_req('GET', '/live/ale/index.m3u8');
    my @msns = playlist_msns($res->{body});
    my ($crc) = $res->{body} =~ /^#EXT-X-MAP:URI="init-([0-9a-f]{8})\.mp4"$/m;
    my ($p) = $res->{body} =~ /^#EXT-X-PART:.*URI="part-(\d+)\.m4s"/m;
    my $m = $msns[-1];
    my @canonical = defined $m && defined $crc && defined $p
                  ? ("seg-$m.m4s", "part-$p.m4s", "init-$crc.mp4", 'init.mp4') : ();
    my @bad = grep { http_req('GET', "/live/ale/$_")->{status} != 200 } @canonical;
    ok(@canonical && !@bad, "$name - the live names are served: @canonical"
       . (@bad ? " (not: @bad)" : '')) or diag("playlist: $res->{status} $res->{body}");
    die "$name: no media to compare with\n" unless @canonical;
    return ($m, $crc, $p);
}

sub raw_status_ok {
    my ($name, $what, $bytes, @ok) = @_;
    my $res = http_raw($bytes, timeout => 10);
    my %ok = map { $_ => 1 } @ok;
    ok($ok{ $res->{status} }, "$name - $what: " . join('/', @ok) . " (got $res->{status})")
        or diag($res->{error} // $res->{head});
    return $res;
}

# a 404 of the module: text/plain, no-store, CORS
sub module_error_ok {
    my ($name, $what, $res) = @_;
    is(hdr1($res, 'Content-Type'), 'text/plain', "$name - $what: text/plain");
    is(hdr1($res, 'Cache-Control'), 'no-store', "$name - $what: no-store");
    is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - $what: CORS");
}

sub get_path {
    my ($path) = @_;
    return http_raw("GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    timeout => 10);
}

# [path, allowed statuses, from the module (its 404: text/plain etc.)]
sub hostile_paths {
    my ($m, $crc, $p) = @_;
    my $up = uc $crc;
    my $long = 'a' x 65;
    return (
        # traversal out of the location and the document root
        ['/live/../../etc/passwd', [400]],
        ['/live/ale/../../../etc/passwd', [400]],
        ['/live/%2e%2e/%2e%2e/etc/passwd', [400]],
        ['/live/ale/%2e%2e/%2e%2e/%2e%2e/etc/passwd', [400]],
        ['/live/ale/..%2f..%2f..%2fetc%2fpasswd', [400]],
        ['/live/ale/%2E%2E/%2E%2E/%2E%2E/etc/passwd', [400]],
        ['/live/ale/..', [404], 1],
        ['/live/ale/%2e%2e', [404], 1],
        ['/live/ale/../../..', [400]],
        ['/live/ale/...', [404], 1],
        ['/live/.../index.m3u8', [404], 1],
        ['/live/ale/..%5c..%5cetc%5cpasswd', [404], 1],
        ['/live/ale\\..\\..\\etc\\passwd', [404], 1],
        # NUL, encoded
        ['/live/ale/index.m3u8%00', [400]],
        ['/live/ale%00/index.m3u8', [400]],
        ["/live/ale/seg-$m.m4s%00.m4s", [400]],
        ['/live/ale/index.m3u8%00.jpg', [400]],
        # other bytes in names
        ['/live/caf%C3%A9/index.m3u8', [404], 1],
        ['/live/ale%20/index.m3u8', [404], 1],
        ['/live/ale%0a/index.m3u8', [404], 1],
        ['/live/ale%ff/index.m3u8', [404], 1],
        ['/live/%zz/index.m3u8', [400]],
        ['/live/ale/%', [400]],
        ['/live/ale/index%2Em3u8x', [404], 1],
        # overlong names
        ["/live/$long/index.m3u8", [404], 1],
        ['/live/' . ('b' x 1000) . '/index.m3u8', [404], 1],
        ['/live/ale/' . ('c' x 1000), [404], 1],
        ["/live/ale/seg-$m" . ('0' x 200) . '.m4s', [404], 1],
        ["/live/ale/part-$m." . ('9' x 300) . '.m4s', [404], 1],
        ['/live/ale/init-' . ('a' x 200) . '.mp4', [404], 1],
        # unknown files
        ['/live/ale/passwd', [404], 1],
        ['/live/ale/index.html', [404], 1],
        ['/live/ale/.htaccess', [404], 1],
        ['/live/ale/index.m3u8.bak', [404], 1],
        ['/live/ale/index.m3u8~', [404], 1],
        ['/live/ale/index.m3u8/', [404], 1],
        ['/live/ale/index.m3u8/x', [404], 1],
        ['/live/ale/init.mp4.gz', [404], 1],
        ['/live/ale/main.m3u8', [404], 1],
        ["/live/ale/seg-$m.mp4", [404], 1],
        ["/live/ale/seg-$m.ts", [404], 1],
        ["/live/ale/part-$m.0.ts", [404], 1],
        ["/live/ale/seg-$m.m4s.m4s", [404], 1],
        ["/live/ale/seg-$m.M4S", [404], 1],
        ["/live/ale/SEG-$m.m4s", [404], 1],
        ["/live/ale/seg-$m", [404], 1],
        ['/live/ale/seg-.m4s', [404], 1],
        ['/live/ale/part-.m4s', [404], 1],
        ["/live/ale/part-0$p.m4s", [404], 1],
        ["/live/ale/part-$p.M4S", [404], 1],
        ["/live/ale/part-+$p.m4s", [404], 1],
        ["/live/ale/part-$m..m4s", [404], 1],
        ["/live/ale/part-$m.0.0.m4s", [404], 1],
        # hexadecimal: lower case, 8 digits
        ["/live/ale/init-$up.mp4", [404], 1],
        ["/live/ale/init-0$crc.mp4", [404], 1],
        ['/live/ale/init-' . substr($crc, 1) . '.mp4', [404], 1],
        ["/live/ale/init-0x$crc.mp4", [404], 1],
        ['/live/ale/init-.mp4', [404], 1],
        ['/live/ale/init-zzzzzzzz.mp4', [404], 1],
        # decimal: no sign, no leading zero, no overflow
        ["/live/ale/seg-0$m.m4s", [404], 1],
        ["/live/ale/seg-00$m.m4s", [404], 1],
        ["/live/ale/seg-+$m.m4s", [404], 1],
        ["/live/ale/seg--$m.m4s", [404], 1],
        ["/live/ale/seg-$m.0.m4s", [404], 1],
        ["/live/ale/seg-${m}e0.m4s", [404], 1],
        ["/live/ale/seg-%20$m.m4s", [404], 1],
        ["/live/ale/part-0$m.0.m4s", [404], 1],
        ["/live/ale/part-$m.00.m4s", [404], 1],
        ["/live/ale/part-$m.01.m4s", [404], 1],
        ["/live/ale/part-$m.-1.m4s", [404], 1],
        ['/live/ale/seg-18446744073709551615.m4s', [404], 1],
        ['/live/ale/seg-18446744073709551616.m4s', [404], 1],
        ['/live/ale/seg-99999999999999999999999999999999.m4s', [404], 1],
        ["/live/ale/part-$m.4294967296.m4s", [404], 1],
        ["/live/ale/part-$m.4294967295.m4s", [404], 1],
        ["/live/ale/part-18446744073709551616.0.m4s", [404], 1],
        # invalid _HLS_ arguments on the playlist
        ['/live/ale/index.m3u8?_HLS_msn=abc', [400], 1],
        ['/live/ale/index.m3u8?_HLS_msn=', [400], 1],
        ['/live/ale/index.m3u8?_HLS_msn=-1', [400], 1],
        ["/live/ale/index.m3u8?_HLS_msn=0$m", [400], 1],
        ['/live/ale/index.m3u8?_HLS_msn=99999999999999999999999', [400], 1],
        ['/live/ale/index.m3u8?_HLS_msn=' . ($m + 1000), [400], 1],
        ['/live/ale/index.m3u8?_HLS_part=1', [400], 1],
        ["/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=x", [400], 1],
        ["/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=4294967296", [400], 1],
        ['/live/ale/index.m3u8?_HLS_skip=NO', [400], 1],
        ['/live/ale/index.m3u8?_HLS_skip=yes', [400], 1],
        # the camera part of the URI
        ['/live/nosuch/index.m3u8', [404], 1],
        ['/live/ALE/index.m3u8', [404], 1],
        ['/live/a.le/index.m3u8', [404], 1],
        ['/live//index.m3u8', [404], 1],
        ['/live/ale/x/index.m3u8', [404], 1],
    );
}

sub check_paths {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $crc, $p) = live($name);
    for my $h (hostile_paths($m, $crc, $p)) {
        my ($path, $ok, $module) = @$h;
        my $res = get_path($path);
        my $short = length $path > 80 ? substr($path, 0, 60) . '...(' . length($path) . ')' : $path;
        ok((grep { $_ == $res->{status} } @$ok), "$name - $short: @$ok (got $res->{status})")
            or diag($res->{error} // $res->{head});
        module_error_ok($name, $short, $res) if $module;
    }
}

# query strings on media name nothing: refused (400), so that a cache in front
# keyed on the query cannot be made to fetch the same bytes again and again
sub check_media_query {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $crc, $p) = live($name);
    for my $path ("/live/ale/seg-$m.m4s?x=1", "/live/ale/part-$p.m4s?foo",
                  "/live/ale/init-$crc.mp4?v=2", '/live/ale/init.mp4?cachebuster=123',
                  "/live/ale/seg-$m.m4s?_HLS_msn=1") {
        my $res = get_path($path);
        is($res->{status}, 400, "$name - $path: 400 (the README: a query string on a media file)");
    }
}

# nginx is still there, the same process, and the camera is still served
sub check_alive {
    my ($block) = @_;
    my $name = $block->name;
    my $pl = wait_sequence_ok('/live/ale/index.m3u8', 1, 15);
    my ($m) = live($name);
    is(http_req('GET', "/live/ale/seg-$m.m4s")->{status}, 200, "$name - seg-$m.m4s: 200");
    my @crash = grep { /exited on signal|\[alert\]|\[crit\]|segfault/ } error_log_lines();
    is(scalar @crash, 0, "$name - no worker crashed") or diag(join '', @crash);
}

sub check_raw {
    my ($block) = @_;
    my $name = $block->name;
    my ($m) = live($name);
    raw_status_ok($name, 'NUL in the request line',
                  "GET /live/ale/index.m3u8\0 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400);
    raw_status_ok($name, 'NUL in the camera name',
                  "GET /live/a\0le/index.m3u8 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400);
    raw_status_ok($name, 'NUL in the file name',
                  "GET /live/ale/seg-$m\0.m4s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400);
    raw_status_ok($name, 'NUL in a header',
                  "GET /live/ale/index.m3u8 HTTP/1.1\r\nHost: localhost\r\nOrigin: a\0b\r\nConnection: close\r\n\r\n", 400);
    raw_status_ok($name, 'NUL in the query',
                  "GET /live/ale/index.m3u8?_HLS_msn=$m\0 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400);
    raw_status_ok($name, 'control bytes in the path',
                  "GET /live/ale/\x01\x7f HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400, 404);
    # within nginx's header buffers the module answers; beyond, nginx does
    my $res = raw_status_ok($name, 'a 6000-byte URI',
                  'GET /live/ale/' . ('x' x 6000) . " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 404);
    module_error_ok($name, 'a 6000-byte URI', $res);
    raw_status_ok($name, 'a 6000-byte _HLS_ query',
                  "GET /live/ale/index.m3u8?_HLS_msn=$m&" . ('y' x 6000) . " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 200);
    raw_status_ok($name, 'a 100000-byte URI',
                  'GET /live/ale/' . ('z' x 100000) . " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400, 414);
    raw_status_ok($name, 'a 100000-byte camera name',
                  'GET /live/' . ('z' x 100000) . "/index.m3u8 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400, 414);
    raw_status_ok($name, 'HEAD of a bad name',
                  "HEAD /live/ale/seg-0$m.m4s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 404);
    raw_status_ok($name, 'a range of a bad name',
                  "GET /live/ale/seg-0$m.m4s HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-10\r\nConnection: close\r\n\r\n", 404);
    raw_status_ok($name, 'absurd ranges',
                  "GET /live/ale/seg-$m.m4s HTTP/1.1\r\nHost: localhost\r\nRange: bytes=" . join(',', map { "$_-$_" } 1 .. 300)
                  . "\r\nConnection: close\r\n\r\n", 200, 206, 416);
    raw_status_ok($name, 'a negative range',
                  "GET /live/ale/seg-$m.m4s HTTP/1.1\r\nHost: localhost\r\nRange: bytes=-0\r\nConnection: close\r\n\r\n", 416);
    raw_status_ok($name, 'a huge range',
                  "GET /live/ale/seg-$m.m4s HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-99999999999999999999999\r\nConnection: close\r\n\r\n",
                  200, 206, 416);
    raw_status_ok($name, 'a body with GET',
                  "GET /live/ale/index.m3u8 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", 200);
    raw_status_ok($name, 'a chunked body with GET',
                  "GET /live/ale/init.mp4 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200);
    # pipelined: a good request after a bad one on the same connection
    $res = http_raw("GET /live/ale/seg-0$m.m4s HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    . "GET /live/ale/index.m3u8 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    timeout => 10);
    is($res->{status}, 404, "$name - pipelined: the bad one first: 404");
    like($res->{raw}, qr{\r\n\r\nnot found\n?HTTP/1\.1 200 OK\r\n.*\r\n\r\n#EXTM3U\n}s,
         "$name - pipelined: then the playlist on the same connection");
}

# seeded random mutations of valid names: no crash; every answer is one of
# the statuses the module or nginx give
sub check_fuzz {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $crc, $p) = live($name);
    srand(20261125);
    my @base = ('ale/index.m3u8', 'ale/init.mp4', "ale/init-$crc.mp4", "ale/seg-$m.m4s",
                "ale/part-$p.m4s", "ale/index.m3u8?_HLS_msn=$m&_HLS_part=1&_HLS_skip=YES");
    my @alphabet = ('%00', '%2e', '%2f', '%25', '/', '.', '..', '-', '0', '9', 'a', 'F', '%', '?',
                    '&', '=', '%ff', '%c0%ae', '~', ';', ' ', '+', '_HLS_msn=', "\t", '%0d%0a');
    my (%status, @bad);
    my $t0 = Time::HiRes::time();
    for my $i (1 .. 300) {
        last if Time::HiRes::time() - $t0 > 30;
        my $p = $base[rand @base];
        for (1 .. 1 + int rand 3) {
            my $pos = int rand(length($p) + 1);
            my $op = int rand 3;
            my $tok = $alphabet[rand @alphabet];
            if ($op == 0) { substr($p, $pos, 0) = $tok }
            elsif ($op == 1) { substr($p, $pos, 1) = '' }
            else { substr($p, $pos, 1) = $tok }
        }
        $p =~ s/ /%20/g;
        $p =~ s/\t/%09/g;
        my $res = get_path("/live/$p");
        $status{ $res->{status} }++;
        push @bad, "/live/$p: $res->{status} " . ($res->{error} // '')
            unless $res->{status} =~ /^(?:200|206|400|404|503)$/;
    }
    is(scalar @bad, 0, "$name - random names: 200/400/404 only ("
       . join(', ', map { "$_ x$status{$_}" } sort keys %status) . ')')
        or diag(join "\n", @bad[0 .. ($#bad > 20 ? 20 : $#bad)]);
}

run_tests();

__DATA__

=== TEST 1: a live camera
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
--- config
location /live/ {
    bar_hls;
    # a mutated _HLS_msn may name a part to come: never wait long
    bar_hls_block_timeout 3s;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 20);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=2
--- no_error_log
exited on signal



=== TEST 2: traversal, NUL, overlong, unknown and non-canonical names
--- request
GET /live/ale/index.m3u8
--- bar_check: paths
--- no_error_log
exited on signal



=== TEST 3: raw requests: NUL bytes, overlong URIs, odd ranges and bodies
--- request
GET /live/ale/index.m3u8
--- bar_check: raw
--- no_error_log
exited on signal



=== TEST 4: random mutations of valid names
--- request
GET /live/ale/index.m3u8
--- bar_check: fuzz
--- no_error_log
exited on signal



=== TEST 5: dot segments nginx resolves inside the location: the canonical file
--- request
GET /live/ale/../ale/./index.m3u8
--- response_headers_like
Content-Type: application/vnd\.apple\.mpegurl
--- bar_playlist: min=2 target=2



=== TEST 6: stray query strings on media
--- request
GET /live/ale/index.m3u8
--- bar_check: media_query
--- no_error_log
exited on signal



=== TEST 7: after all that: no crash, the camera keeps streaming
--- request
GET /live/ale/index.m3u8
--- bar_check: alive
--- no_error_log
exited on signal
