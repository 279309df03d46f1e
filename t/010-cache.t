# Caching headers: Cache-Control per file type and per directive,
# CDN-Cache-Control, ETag / Last-Modified and 304s, HEAD, byte ranges
# (206, 416) and exact Content-Lengths.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Time::HiRes qw(sleep);
use BarHls::Http;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25);

# a second server: the directives at server level
$ENV{TEST_NGINX_BAR_PORT2} = free_port();

# ale: segment=2s window=6 with LL-HLS parts -> media max-age (6+3)*2 = 18,
#      playlist max-age 2/2 = 1
# big: segment=4s window=3 part=off -> media (3+3)*4 = 24, playlist 4/2 = 2
my %Media = (ale => 18, big => 24);
my %List  = (ale => 1,  big => 2);

# A media playlist, its names: (init-<crc>.mp4, [seg-N.m4s ...],
# [listed parts part-N.m4s ...]).  Listed parts only (not the preload
# hint, which would block).
sub names {
    my ($text) = @_;
    my ($map) = $text =~ /^#EXT-X-MAP:URI="([^"]+)"$/m;
    my @segs = $text =~ /^(seg-\d+\.(?:m4s|ts))$/mg;
    my @parts = $text =~ /^#EXT-X-PART:.*URI="([^"]+)"/mg;
    return ($map, \@segs, \@parts);
}

sub get_ok {
    my ($name, $path, @h) = @_;
    my $res = http_req('GET', $path, headers => \@h);
    is($res->{status}, 200, "$name - GET $path: 200")
        or diag("$res->{status} " . ($res->{error} // '') . "\n$res->{head}");
    return $res;
}

sub cc_is {
    my ($name, $res, $want, $what) = @_;
    is(hdr1($res, 'Cache-Control'), $want, "$name - $what: Cache-Control: $want");
}

# Cache-Control of every kind of file of camera $cam below $prefix
sub check_cc_types {
    my ($name, $prefix, $cam, $list_age) = @_;
    my $pl = get_ok($name, "$prefix$cam/index.m3u8");
    cc_is($name, $pl, "public, max-age=$list_age", "$cam playlist");
    my ($map, $segs, $parts) = names($pl->{body});
    ok(@$segs >= 2, "$name - $cam: the playlist lists segments");
    like($map // '', qr/^init-[0-9a-f]{8}\.mp4$/, "$name - $cam: EXT-X-MAP init-<crc>.mp4");

    my $seg = get_ok($name, "$prefix$cam/$segs->[0]");
    cc_is($name, $seg, "public, max-age=$Media{$cam}, immutable", "$cam $segs->[0]");
    my $last = get_ok($name, "$prefix$cam/$segs->[-1]");
    cc_is($name, $last, "public, max-age=$Media{$cam}, immutable", "$cam $segs->[-1]");

    my $init = get_ok($name, "$prefix$cam/init.mp4");
    cc_is($name, $init, 'public, max-age=1', "$cam init.mp4 (unversioned)");

    # init-<crc>.mp4 names one set of bytes forever: immutable, and kept
    # at least as long as the segments that refer to it
    my $vinit = get_ok($name, "$prefix$cam/$map");
    my ($age, $imm) = (hdr1($vinit, 'Cache-Control') // '')
                      =~ /^public, max-age=(\d+)(, immutable)?$/;
    ok($imm && $age >= $Media{$cam},
       "$name - $cam $map: public, max-age >= $Media{$cam}, immutable ("
       . (hdr1($vinit, 'Cache-Control') // 'none') . ')');

    if ($cam eq 'ale') {
        ok(@$parts >= 5, "$name - ale: the playlist lists parts of complete segments");
        my $part = get_ok($name, "$prefix$cam/$parts->[0]");
        cc_is($name, $part, "public, max-age=$Media{$cam}, immutable", "ale $parts->[0]");
    } else {
        unlike($pl->{body}, qr/#EXT-X-PART/, "$name - big: part=off, no parts");
    }
}

sub check_cc_default {
    my ($block) = @_;
    my $name = $block->name;
    check_cc_types($name, '/live/', $_, $List{$_}) for qw(ale big);
}

sub check_cc_directive {
    my ($block) = @_;
    my $name = $block->name;
    # bar_hls_playlist_max_age changes the playlists only
    check_cc_types($name, '/fixed/', 'ale', 5);
    check_cc_types($name, '/fixed/', 'big', 5);
    # below a second: still max-age=1, never 0
    my $tiny = get_ok($name, '/tiny/ale/index.m3u8');
    cc_is($name, $tiny, 'public, max-age=1', 'max_age 300ms playlist');
    # server level, inherited by the location
    my $srv = http_req('GET', '/live/big/index.m3u8', port => $ENV{TEST_NGINX_BAR_PORT2});
    is($srv->{status}, 200, "$name - server level: 200");
    cc_is($name, $srv, 'public, max-age=7', 'server-level max_age 7s playlist');
}

# A blocking playlist request (_HLS_msn of a segment that is complete
# already, so that it answers at once): max-age 6 x target
sub check_cc_blocking {
    my ($block, $body) = @_;
    my $name = $block->name;
    my @msns = playlist_msns($body);
    my $res = get_ok($name, "/live/ale/index.m3u8?_HLS_msn=$msns[-1]");
    cc_is($name, $res, 'public, max-age=12', "_HLS_msn=$msns[-1] playlist");
    $res = get_ok($name, "/live/ale/index.m3u8?_HLS_msn=$msns[-1]&_HLS_part=0");
    cc_is($name, $res, 'public, max-age=12', "_HLS_msn=$msns[-1]&_HLS_part=0 playlist");
    $res = get_ok($name, "/live/ale/index.m3u8?_HLS_msn=$msns[-1]&_HLS_skip=YES");
    cc_is($name, $res, 'public, max-age=12', "_HLS_msn=$msns[-1]&_HLS_skip=YES playlist");
    $res = get_ok($name, '/fixed/ale/index.m3u8?_HLS_msn=' . $msns[-1]);
    cc_is($name, $res, 'public, max-age=12', 'blocking playlist ignores bar_hls_playlist_max_age');
}

# never a header that keeps a cache in front from caching
sub check_cacheable {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($map, $segs, $parts) = names($body);
    for my $f ('index.m3u8', 'index.m3u8?_HLS_skip=YES', 'init.mp4', $map,
               $segs->[0], $parts->[0]) {
        my $res = get_ok($name, "/live/ale/$f");
        my $cc = join ', ', hdr($res, 'Cache-Control');
        unlike($cc, qr/no-cache|no-store|private|max-age=0\b|must-revalidate/,
               "$name - $f: no no-cache, no-store, private, max-age=0 ($cc)");
        is(scalar(hdr($res, 'Cache-Control')), 1, "$name - $f: one Cache-Control header");
        is(scalar(hdr($res, 'Set-Cookie')), 0, "$name - $f: no Set-Cookie");
        is(scalar(hdr($res, 'Expires')), 0, "$name - $f: no Expires of its own");
        is(scalar(grep { /^(?:\*|Origin)$/i } map { split /\s*,\s*/ } hdr($res, 'Vary')), 0,
           "$name - $f: no Vary that splits the cache (allow_origin *)");
    }
}

# CDN-Cache-Control: the same value as Cache-Control, only when on
sub check_cdn {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($map, $segs, $parts) = names($body);
    for my $f ('index.m3u8', 'init.mp4', $map, $segs->[0], $parts->[0]) {
        my $res = get_ok($name, "/cdn/ale/$f");
        my $cc = hdr1($res, 'Cache-Control');
        ok(defined $cc, "$name - $f: Cache-Control");
        is(hdr1($res, 'CDN-Cache-Control'), $cc, "$name - $f: CDN-Cache-Control = Cache-Control");
        my $off = get_ok($name, "/live/ale/$f");
        is(scalar(hdr($off, 'CDN-Cache-Control')), 0, "$name - $f: none when off (default)");
    }
    my $p2 = $ENV{TEST_NGINX_BAR_PORT2};
    my $res = http_req('GET', '/live/big/index.m3u8', port => $p2);
    is(hdr1($res, 'CDN-Cache-Control'), 'public, max-age=7',
       "$name - server level on: CDN-Cache-Control on the playlist");
    $res = http_req('GET', '/nocdn/big/index.m3u8', port => $p2);
    is($res->{status}, 200, "$name - location off below server on: 200");
    is(scalar(hdr($res, 'CDN-Cache-Control')), 0,
       "$name - location off below server on: no CDN-Cache-Control");
    is(hdr1($res, 'Cache-Control'), 'public, max-age=7',
       "$name - location off below server on: Cache-Control inherited");
    # an error is never cached by a CDN either
    $res = http_req('GET', '/cdn/ale/seg-1.m4s');
    is($res->{status}, 404, "$name - /cdn/ unknown segment: 404");
    for my $h ('Cache-Control', 'CDN-Cache-Control') {
        my @v = hdr($res, $h);
        ok(!@v || "@v" eq 'no-store', "$name - 404: $h absent or no-store (@v)");
    }
}

# ETag and Last-Modified on every 200; 304 on If-None-Match and on
# If-Modified-Since
sub check_validators {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($map, $segs, $parts) = names($body);
    my %etags;
    for my $f ('init.mp4', $map, $segs->[0], $segs->[1], $parts->[0], $parts->[1]) {
        my $path = "/live/ale/$f";
        my $res = get_ok($name, $path);
        my $etag = hdr1($res, 'ETag') // '';
        my $lm = hdr1($res, 'Last-Modified') // '';
        like($etag, qr/^"[\x21\x23-\x7e]+"$/, "$name - $f: a strong ETag ($etag)");
        like($lm, qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/,
             "$name - $f: Last-Modified ($lm)");
        push @{ $etags{$etag} }, $f;

        my $nm = http_req('GET', $path, headers => ['If-None-Match' => $etag]);
        is($nm->{status}, 304, "$name - $f: If-None-Match: its ETag -> 304");
        is($nm->{trailing} // '', '', "$name - $f: 304 without a body");
        is(hdr1($nm, 'ETag'), $etag, "$name - $f: the 304 has the ETag");
        is(hdr1($nm, 'Cache-Control'), hdr1($res, 'Cache-Control'),
           "$name - $f: the 304 has the same Cache-Control");
        is(hdr1($nm, 'Access-Control-Allow-Origin'), '*', "$name - $f: the 304 has CORS");

        my $list = http_req('GET', $path, headers => ['If-None-Match' => qq{"x", $etag}]);
        is($list->{status}, 304, "$name - $f: If-None-Match: a list with its ETag -> 304");
        my $star = http_req('GET', $path, headers => ['If-None-Match' => '*']);
        is($star->{status}, 304, "$name - $f: If-None-Match: * -> 304");

        my $other = http_req('GET', $path, headers => ['If-None-Match' => '"other"']);
        is($other->{status}, 200, "$name - $f: If-None-Match: another ETag -> 200");
        is(length $other->{body}, length $res->{body}, "$name - $f: ... with the body");

        my $ims = http_req('GET', $path, headers => ['If-Modified-Since' => $lm]);
        is($ims->{status}, 304, "$name - $f: If-Modified-Since: its Last-Modified -> 304");
        my $old = http_req('GET', $path,
                           headers => ['If-Modified-Since' => 'Mon, 01 Jan 2001 00:00:00 GMT']);
        is($old->{status}, 200, "$name - $f: If-Modified-Since: 2001 -> 200");
    }
    my @dup = grep { @{ $etags{$_} } > 1 && !grep({ /^init/ } @{ $etags{$_} }) } keys %etags;
    ok(!@dup, "$name - different files have different ETags")
        or diag(join "\n", map { "$_: @{ $etags{$_} }" } @dup);
}

# the playlist's validators change when it does; an old one gets a 200
sub check_playlist_validators {
    my ($block, $body) = @_;
    my $name = $block->name;
    for my $cam (qw(ale big)) {
        my $path = "/live/$cam/index.m3u8";
        my $first = get_ok($name, $path);
        my $etag = hdr1($first, 'ETag') // '';
        my $lm = hdr1($first, 'Last-Modified') // '';
        like($etag, qr/^"[\x21\x23-\x7e]+"$/, "$name - $cam playlist: a strong ETag ($etag)");
        like($lm, qr/ GMT$/, "$name - $cam playlist: Last-Modified ($lm)");

        # 304 as long as it did not change: the camera paused (SIGSTOP),
        # the playlist stays as it is (proven: two fetches 0.5 s apart
        # with one ETag), and its ETag must get a 304, every time
        pause_camera($Cam);
        my ($still, $e1);
        for (1 .. 20) {
            my $a = http_req('GET', $path);
            sleep 0.5;
            my $b = http_req('GET', $path);
            $e1 = hdr1($b, 'ETag');
            if (defined $e1 && $e1 eq (hdr1($a, 'ETag') // '')) {
                $still = 1;
                last;
            }
        }
        ok($still, "$name - $cam playlist: unchanged for 0.5 s with the camera paused");
        my @codes = map { http_req('GET', $path, headers => ['If-None-Match' => $e1 // ''])->{status} } 1 .. 3;
        resume_camera($Cam);
        is("@codes", '304 304 304', "$name - $cam playlist: If-None-Match of the current ETag -> 304");

        # once the media sequence moved on, the old validators get a 200
        my $seq = parse_playlist($first->{body})->{sequence} // 0;
        my $newer = wait_until(15, 0.2, sub {
            my $res = http_req('GET', $path);
            my $pl = parse_playlist($res->{body});
            return $pl && $pl->{sequence} > $seq ? $res : undef;
        });
        ok($newer, "$name - $cam playlist: the media sequence moved on");
        next unless $newer;
        isnt(hdr1($newer, 'ETag'), $etag, "$name - $cam playlist: a new ETag");
        my $res = http_req('GET', $path, headers => ['If-None-Match' => $etag]);
        is($res->{status}, 200, "$name - $cam playlist: the old ETag -> 200");
        ok(length($res->{body}) > 0, "$name - $cam playlist: ... with a body");
        $res = http_req('GET', $path, headers => ['If-None-Match' => $etag,
                                                    'If-Modified-Since' => $lm]);
        is($res->{status}, 200, "$name - $cam playlist: old ETag and old Last-Modified -> 200");
    }
}

# HEAD: the GET's headers, no body
sub check_head {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($map, $segs, $parts) = names($body);
    for my $f ('init.mp4', $map, $segs->[0], $parts->[0]) {
        my $path = "/live/ale/$f";
        my $get = get_ok($name, $path);
        my $head = http_req('HEAD', $path);
        is($head->{status}, 200, "$name - HEAD $f: 200");
        is($head->{trailing}, '', "$name - HEAD $f: no body");
        is(hdr1($head, 'Content-Length'), length $get->{body},
           "$name - HEAD $f: the GET's Content-Length");
        for my $h ('Content-Type', 'Cache-Control', 'ETag', 'Last-Modified',
                   'Accept-Ranges', 'Access-Control-Allow-Origin') {
            is(hdr1($head, $h), hdr1($get, $h), "$name - HEAD $f: the GET's $h");
        }
    }
    my $head = http_req('HEAD', '/live/ale/index.m3u8');
    is($head->{status}, 200, "$name - HEAD index.m3u8: 200");
    is($head->{trailing}, '', "$name - HEAD index.m3u8: no body");
    like(hdr1($head, 'Content-Length') // '', qr/^[1-9]\d*$/, "$name - HEAD index.m3u8: Content-Length");
}

# Content-Length is the body's exact length; Accept-Ranges: bytes
sub check_length {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($map, $segs, $parts) = names($body);
    for my $f ('index.m3u8', 'index.m3u8?_HLS_skip=YES', 'init.mp4', $map,
               @$segs, @$parts[0 .. 2]) {
        my $res = get_ok($name, "/live/ale/$f");
        is(hdr1($res, 'Transfer-Encoding'), undef, "$name - $f: not chunked");
        is(hdr1($res, 'Content-Length'), length $res->{body},
           "$name - $f: Content-Length is the body's length");
        is($res->{error}, undef, "$name - $f: read to the end");
        if ($f =~ /\.m3u8/) {
            is(hdr1($res, 'Accept-Ranges'), undef, "$name - $f: no Accept-Ranges on a playlist");
        } else {
            is(hdr1($res, 'Accept-Ranges'), 'bytes', "$name - $f: Accept-Ranges: bytes");
        }
    }
}

sub range_ok {
    my ($name, $path, $full, $range, $from, $to) = @_;
    my $len = length $full;
    my $res = http_req('GET', $path, headers => [Range => "bytes=$range"]);
    is($res->{status}, 206, "$name - $path bytes=$range: 206");
    is(hdr1($res, 'Content-Range'), "bytes $from-$to/$len",
       "$name - $path bytes=$range: Content-Range");
    is(hdr1($res, 'Content-Length'), $to - $from + 1, "$name - $path bytes=$range: Content-Length");
    ok($res->{body} eq substr($full, $from, $to - $from + 1),
       "$name - $path bytes=$range: the right bytes (" . length($res->{body}) . ')');
    is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - $path bytes=$range: CORS");
    return $res;
}

# every header value of a response is printable text, and so is every
# Cache-Control it may carry
sub clean_head_ok {
    my ($name, $what, $res) = @_;
    is(printable_head($res), $res->{head}, "$name - $what: the header block is printable ASCII");
    my @bad = grep { !/^(?:no-store|public, max-age=\d+(?:, immutable)?)$/ }
              hdr($res, 'Cache-Control');
    ok(!@bad, "$name - $what: no garbage in Cache-Control")
        or diag(join "\n", map { my $r = { head => $_ }; printable_head($r) } @bad);
}

sub check_ranges {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($map, $segs, $parts) = names($body);
    my $path = "/live/ale/$segs->[0]";
    my $full = get_ok($name, $path)->{body};
    my $len = length $full;
    ok($len > 1000, "$name - $segs->[0]: $len bytes");
    my $res = range_ok($name, $path, $full, '0-99', 0, 99);
    clean_head_ok($name, "$path bytes=0-99", $res);
    is(hdr1($res, 'ETag'), hdr1(http_req('HEAD', $path), 'ETag'), "$name - 206: the ETag");
    range_ok($name, $path, $full, '100-', 100, $len - 1);
    range_ok($name, $path, $full, '-100', $len - 100, $len - 1);
    range_ok($name, $path, $full, "1000-99999999", 1000, $len - 1);

    for my $f ('init.mp4', $map) {
        my $data = get_ok($name, "/live/ale/$f")->{body};
        range_ok($name, "/live/ale/$f", $data, '0-7', 0, 7);
    }
    # a playlist changes between two requests: a range of it is the tail
    # of another version (Chromium's player asks for the rest of the one
    # it had): playlists are always whole
    for my $range ('bytes=10-29', 'bytes=99999999-') {
        my $r = http_req('GET', '/live/big/index.m3u8', headers => [Range => $range]);
        is($r->{status}, 200, "$name - index.m3u8 $range: 200, the whole playlist");
        like($r->{body}, qr/\A#EXTM3U\n/, "$name - index.m3u8 $range: from its start");
    }

    # unsatisfiable: 416 with Content-Range: bytes */length
    for my $f ($segs->[0], 'init.mp4', $parts->[0]) {
        my $p = "/live/ale/$f";
        my $flen = length get_ok($name, $p)->{body};
        for my $range ("bytes=$flen-", 'bytes=99999999-') {
            my $r = http_req('GET', $p, headers => [Range => $range]);
            is($r->{status}, 416, "$name - $f $range: 416");
            is(hdr1($r, 'Content-Range'), "bytes */$flen", "$name - $f $range: Content-Range: bytes */$flen");
            clean_head_ok($name, "$f $range", $r);
        }
    }
    # not a byte range: the whole file
    $res = http_req('GET', $path, headers => [Range => 'lines=0-1']);
    is($res->{status}, 200, "$name - Range: lines=0-1: 200");
    is(length $res->{body}, $len, "$name - Range: lines=0-1: the whole body");
    # If-Range with the ETag: the range; with another one: everything
    my $etag = hdr1(http_req('HEAD', $path), 'ETag');
    $res = http_req('GET', $path, headers => [Range => 'bytes=0-9', 'If-Range' => $etag]);
    is($res->{status}, 206, "$name - If-Range: its ETag -> 206");
    $res = http_req('GET', $path, headers => [Range => 'bytes=0-9', 'If-Range' => '"other"']);
    is($res->{status}, 200, "$name - If-Range: another ETag -> 200");
    is(length $res->{body}, $len, "$name - If-Range: another ETag: the whole body");
}

run_tests();

__DATA__

=== TEST 1: a camera with parts and one without; default playlist headers
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
bar_hls_camera big rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=4s window=3 part=off;

server {
    listen 127.0.0.1:$TEST_NGINX_BAR_PORT2;
    bar_hls_playlist_max_age 7s;
    bar_hls_cdn_cache_control on;

    location /live/ {
        bar_hls;
    }
    location /nocdn/ {
        bar_hls;
        bar_hls_cdn_cache_control off;
    }
}
--- config
location /live/ {
    bar_hls;
}
location /fixed/ {
    bar_hls;
    bar_hls_playlist_max_age 5s;
}
location /tiny/ {
    bar_hls;
    bar_hls_playlist_max_age 300ms;
}
location /cdn/ {
    bar_hls;
    bar_hls_cdn_cache_control on;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 3, 20);
BarHls::Test::wait_playlist_ok('/live/big/index.m3u8', 2, 25);
--- request
GET /live/ale/index.m3u8
--- response_headers
Content-Type: application/vnd.apple.mpegurl
Cache-Control: public, max-age=1
!Accept-Ranges
Access-Control-Allow-Origin: *
!CDN-Cache-Control
!Set-Cookie
!Expires
--- no_error_log
[error]



=== TEST 2: Cache-Control per file type (segment=2s window=6; segment=4s window=3)
--- request
GET /live/ale/index.m3u8
--- bar_check: cc_default
--- no_error_log
[error]



=== TEST 3: bar_hls_playlist_max_age: location, below a second, server level
--- request
GET /fixed/ale/index.m3u8
--- response_headers
Cache-Control: public, max-age=5
--- bar_check: cc_directive
--- no_error_log
[error]



=== TEST 4: blocking playlist requests: max-age 6 x target
--- request
GET /live/ale/index.m3u8
--- bar_check: cc_blocking
--- no_error_log
[error]



=== TEST 5: nothing keeps a cache from caching
--- request
GET /live/ale/index.m3u8
--- bar_check: cacheable
--- no_error_log
[error]



=== TEST 6: bar_hls_cdn_cache_control
--- request
GET /cdn/ale/index.m3u8
--- response_headers
Cache-Control: public, max-age=1
CDN-Cache-Control: public, max-age=1
--- bar_check: cdn
--- no_error_log
[error]



=== TEST 7: ETag, Last-Modified, If-None-Match and If-Modified-Since on media
--- request
GET /live/ale/index.m3u8
--- bar_check: validators
--- no_error_log
[error]



=== TEST 8: playlist validators follow its updates
--- request
GET /live/ale/index.m3u8
--- bar_check: playlist_validators
--- no_error_log
[error]



=== TEST 9: HEAD
--- request
GET /live/ale/index.m3u8
--- bar_check: head
--- no_error_log
[error]



=== TEST 10: exact Content-Length, Accept-Ranges
--- request
GET /live/ale/index.m3u8
--- bar_check: length
--- no_error_log
[error]



=== TEST 11: byte ranges: 206, 416, If-Range on media; playlists always whole
--- request
GET /live/ale/index.m3u8
--- bar_check: ranges
--- no_error_log
[error]
