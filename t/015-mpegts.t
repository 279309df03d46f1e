# variant=mpegts: classic (version 3) and Low-Latency (version 9)
# playlists of .ts segments and parts without EXT-X-MAP; the segments are
# MPEG-TS (0x47 sync bytes, PAT first) that ffprobe decodes to H.264
# 640x360 and AAC.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Http;
use BarHls::Fault ();
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25,
             size => '640x360', fps => 25);

sub wait_ts_playlist {
    my ($path, $min, $timeout) = @_;
    my $t0 = Time::HiRes::time();
    my $last = '';
    my $pl = wait_until($timeout, 0.2, sub {
        my $res = http_req('GET', $path);
        my $n = () = $res->{body} =~ /^seg-\d+\.ts$/mg;
        $last = "$res->{status}: $res->{body}";
        return $res->{status} == 200 && $n >= $min ? $res->{body} : undef;
    });
    ok($pl, sprintf '%s lists >= %d .ts segment(s) within %ds (%.1fs)', $path, $min, $timeout,
       Time::HiRes::time() - $t0) or diag("last seen: $last");
}

# structure common to both playlists; returns the segment numbers
sub ts_playlist_ok {
    my ($name, $text, $version) = @_;
    like($text, qr/\A#EXTM3U\n#EXT-X-VERSION:$version\n/, "$name - EXT-X-VERSION:$version");
    unlike($text, qr/#EXT-X-MAP/, "$name - no EXT-X-MAP");
    unlike($text, qr/\.m4s|\.mp4/, "$name - no fMP4 name");
    like($text, qr/^#EXT-X-TARGETDURATION:2$/m, "$name - EXT-X-TARGETDURATION:2");
    my @uris = grep { !/^#/ && length } split /\n/, $text;
    my @segs = map { /^seg-(\d+)\.ts$/ ? $1 : () } @uris;
    is(scalar @segs, scalar @uris, "$name - every URI line is seg-<msn>.ts") or diag("@uris");
    ok(@segs >= 2, "$name - at least 2 segments (" . scalar(@segs) . ')');
    my ($seq) = $text =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m;
    is($seq, $segs[0], "$name - EXT-X-MEDIA-SEQUENCE is the first segment's");
    my @gap = grep { $segs[$_] != $segs[0] + $_ } 0 .. $#segs;
    is(scalar @gap, 0, "$name - consecutive segment numbers");
    my @inf = $text =~ /^#EXTINF:([\d.]+),$/mg;
    is(scalar @inf, scalar @segs, "$name - an EXTINF per segment");
    ok(!(grep { $_ <= 0 || int($_ + 0.5) > 2 } @inf), "$name - EXTINFs within the target (@inf)");
    # (in LL-HLS the open segment's parts have theirs too)
    my @pdt = $text =~ /^#EXT-X-PROGRAM-DATE-TIME:(\S+)$/mg;
    ok(@pdt == @segs || ($version >= 9 && @pdt == @segs + 1),
       "$name - a PROGRAM-DATE-TIME per segment (" . scalar(@pdt) . ' for ' . scalar(@segs) . ')');
    return @segs;
}

sub check_classic {
    my ($block, $body) = @_;
    my $name = $block->name;
    ts_playlist_ok($name, $body, 3);
    unlike($body, qr/#EXT-X-(?:PART|PART-INF|PRELOAD-HINT|SERVER-CONTROL|SKIP)\b/,
           "$name - no Low-Latency HLS tag");
}

sub check_ll {
    my ($block, $body) = @_;
    my $name = $block->name;
    my @segs = ts_playlist_ok($name, $body, 9);
    like($body, qr/^#EXT-X-PART-INF:PART-TARGET=0\.200$/m, "$name - EXT-X-PART-INF");
    like($body, qr/^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES/m, "$name - EXT-X-SERVER-CONTROL");
    my @parts = $body =~ /^#EXT-X-PART:.*URI="([^"]+)"/mg;
    ok(@parts >= 5, "$name - parts listed (" . scalar(@parts) . ')');
    is(scalar(grep { !/^part-\d+\.ts$/ } @parts), 0, "$name - parts are part-<n>.ts")
        or diag("@parts");
    like($body, qr/^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.ts"$/m,
         "$name - EXT-X-PRELOAD-HINT of a .ts part");
}

# MPEG-TS: 188-byte packets with sync bytes; with $psi_first, the PAT and
# the PMT it names come before the first audio/video packet (the PSI at
# the start of the segment; libavformat writes SDT, PAT, PMT)
sub ts_ok {
    my ($name, $what, $data, $psi_first) = @_;
    my $len = length $data;
    my $n = int($len / 188);
    ok($len > 0 && $len % 188 == 0, "$name - $what: $len bytes, whole 188-byte packets");
    my @bad = grep { substr($data, $_ * 188, 1) ne "\x47" } 0 .. $n - 1;
    is(scalar @bad, 0, "$name - $what: every packet starts with the 0x47 sync byte");
    return unless $psi_first && $n;
    my ($pmt_pid, $pmt_seen, @lead);
    for my $i (0 .. ($n > 20 ? 19 : $n - 1)) {
        my $pkt = substr($data, $i * 188, 188);
        my ($b1, $b2, $b3) = unpack 'x C3', $pkt;
        my $pid = (($b1 & 0x1f) << 8) | $b2;
        if ($pid == 0) {
            my $off = 4 + (($b3 >> 4) & 2 ? 1 + ord(substr($pkt, 4, 1)) : 0);
            my $sec = substr($pkt, $off + 1 + ord(substr($pkt, $off, 1)));
            is(ord($sec), 0, "$name - $what: PID 0 carries a PAT (table_id 0)");
            $pmt_pid = unpack('n', substr($sec, 10, 2)) & 0x1fff;
        } elsif (defined $pmt_pid && $pid == $pmt_pid) {
            $pmt_seen = 1;
        } elsif ($pid != 0x11 && $pid != 0x1fff) {
            last;                               # the first PES packet
        }
        push @lead, $pid;
    }
    ok(defined $pmt_pid, "$name - $what: a PAT before the first media packet (PIDs @lead)");
    ok($pmt_seen, "$name - $what: the PMT (PID " . ($pmt_pid // '?') . ') before the first media packet');
}

# PES starts of an audio stream (stream_id 0xc0-0xdf) in TS packets
sub audio_pes {
    my ($data) = @_;
    my $n = 0;
    for (my $i = 0; $i + 188 <= length $data; $i += 188) {
        my ($sync, $b1, $b2, $b3, $alen) = unpack 'C5', substr($data, $i, 5);
        next unless $sync == 0x47 && ($b1 & 0x40) && ($b3 & 0x10);
        my $off = 4 + (($b3 & 0x20) ? 1 + $alen : 0);
        next if $off + 4 > 188;
        my ($p0, $p1, $p2, $sid) = unpack 'C4', substr($data, $i + $off, 4);
        $n++ if $p0 == 0 && $p1 == 0 && $p2 == 1 && ($sid & 0xe0) == 0xc0;
    }
    return $n;
}

sub check_media {
    my ($block, $body) = @_;
    my $name = $block->name;
    for my $cam (qw(tsc ts)) {
        my $pl = http_req('GET', "/live/$cam/index.m3u8")->{body};
        my @segs = $pl =~ /^(seg-\d+\.ts)$/mg;
        for my $seg (@segs[0, -1]) {
            my $res = http_req('GET', "/live/$cam/$seg");
            is($res->{status}, 200, "$name - $cam/$seg: 200");
            is(hdr1($res, 'Content-Type'), 'video/mp2t', "$name - $cam/$seg: video/mp2t");
            is(hdr1($res, 'Content-Length'), length $res->{body}, "$name - $cam/$seg: Content-Length");
            is(hdr1($res, 'Cache-Control'), 'public, max-age=18, immutable', "$name - $cam/$seg: Cache-Control");
            like(hdr1($res, 'ETag') // '', qr/^"\S+"$/, "$name - $cam/$seg: ETag");
            ts_ok($name, "$cam/$seg", $res->{body}, 1);
        }
        # there is no init segment, nor fMP4 names
        my ($msn) = $segs[0] =~ /(\d+)/;
        my ($part) = $body =~ /URI="part-(\d+)\.ts"/;
        for my $f ('init.mp4', "seg-$msn.m4s", 'part-' . ($part // $msn) . '.m4s') {
            my $res = http_req('GET', "/live/$cam/$f");
            is($res->{status}, 404, "$name - $cam/$f: 404");
        }
    }
}

# LL parts: part-<n>.ts, MPEG-TS each, and a segment is its parts
sub check_parts {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = BarHls::Fault::parse_ll($body);
    my ($seg) = grep { @{ $_->{parts} } } reverse @{ $pl->{segments} };
    my $msn = $seg->{msn};
    my @parts = map { $_->{uri} } @{ $seg->{parts} };
    ok(@parts >= 5, "$name - segment $msn lists " . scalar(@parts) . ' parts');
    my $all = '';
    my @audio;
    for my $i (0 .. $#parts) {
        my $p = $parts[$i];
        my $res = http_req('GET', "/live/ts/$p");
        is($res->{status}, 200, "$name - $p: 200");
        is(hdr1($res, 'Content-Type'), 'video/mp2t', "$name - $p: video/mp2t");
        ts_ok($name, $p, $res->{body}, $i == 0);
        push @audio, audio_pes($res->{body});
        $all .= $res->{body};
    }
    # a player may join at any part: Shaka's TS transmuxer fails (3018) on
    # a first part without audio, when the stream has audio
    diag("measure: $name - audio PES per part of seg-$msn: @audio");
    is(scalar(grep { $_ == 0 } @audio), 0, "$name - every part of seg-$msn carries audio "
       . "(the camera sends AAC all along)");
    my $whole = http_req('GET', "/live/ts/seg-$msn.ts")->{body};
    ok(length $whole && $all eq $whole, "$name - seg-$msn.ts is its parts one after another ("
       . length($all) . ' vs ' . length($whole) . ')');
    # a blocking reload for the next part answers with the hinted part
    my ($next_msn, $next_part, $uri) = @{ $pl->{hint} }{qw(msn part uri)};
    my $res = http_req('GET', "/live/ts/index.m3u8?_HLS_msn=$next_msn&_HLS_part=$next_part",
                       timeout => 15);
    is($res->{status}, 200, "$name - blocking reload for part $next_part of seg-$next_msn: 200");
    like($res->{body}, qr/URI="\Q$uri\E"/, "$name - blocking reload: the hinted $uri is listed");
}

sub probe_ok {
    my ($name, $path) = @_;
    my $streams = ffprobe_streams($path, 30) || [];
    my @v = grep { ($_->{codec_type} // '') eq 'video' } @$streams;
    my @a = grep { ($_->{codec_type} // '') eq 'audio' } @$streams;
    is($v[0]{codec_name}, 'h264', "$name - ffprobe $path: H.264");
    is(($v[0]{width} // '?') . 'x' . ($v[0]{height} // '?'), '640x360', "$name - ffprobe $path: 640x360");
    is($a[0]{codec_name}, 'aac', "$name - ffprobe $path: AAC");
}

sub check_ffprobe {
    my ($block, $body) = @_;
    my $name = $block->name;
    probe_ok($name, '/live/tsc/index.m3u8');
    probe_ok($name, '/live/ts/index.m3u8');
    my ($seg) = $body =~ /^(seg-\d+\.ts)$/m;
    probe_ok($name, "/live/tsc/$seg");
    my ($rc, $err) = ffmpeg_decode('/live/tsc/index.m3u8', 2, 40);
    is($rc, 0, "$name - ffmpeg decodes 2 s of the classic playlist (exit code)");
    is($err, '', "$name - ffmpeg decodes 2 s without errors");
}

run_tests();

__DATA__

=== TEST 1: part=off: a version 3 playlist of .ts segments
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera tsc rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 variant=mpegts part=off;
bar_hls_camera ts rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 variant=mpegts;
--- config
location /live/ {
    bar_hls;
}
--- init
main::wait_ts_playlist('/live/tsc/index.m3u8', 3, 20);
main::wait_ts_playlist('/live/ts/index.m3u8', 3, 20);
--- request
GET /live/tsc/index.m3u8
--- response_headers
Content-Type: application/vnd.apple.mpegurl
Cache-Control: public, max-age=1
--- bar_check: classic



=== TEST 2: Low-Latency: version 9, .ts parts
--- request
GET /live/ts/index.m3u8
--- bar_check: ll



=== TEST 3: segments: video/mp2t, sync bytes, PAT first; no init segment
--- request
GET /live/tsc/index.m3u8
--- bar_check: media



=== TEST 4: parts: part-<n>.ts, a segment is its parts
--- request
GET /live/ts/index.m3u8
--- bar_check: parts



=== TEST 5: ffprobe and ffmpeg read it: H.264 640x360 and AAC
--- request
GET /live/tsc/index.m3u8
--- bar_check: ffprobe
