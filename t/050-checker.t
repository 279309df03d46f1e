# The playlist checker (t/lib/BarHls/Checker.pm) on its own: good
# playlists pass, and every rule has a playlist that breaks it.  No
# nginx, no camera.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Checker ();
use File::Temp ();
use JSON::PP ();
use Test::More;

# A good Low-Latency playlist: 3 segments of 2 s (10 parts of 0.2 s),
# parts listed for the last 2, an open segment of 3 parts and the hint.
# $msn is the first segment's number; $p0 the first date (epoch s).
sub ll {
    my (%o) = @_;
    my $msn = $o{msn} // 100;
    my $n = $o{segments} // 3;
    my $open = $o{open} // 3;
    my $t0 = $o{t0} // 1795000000;
    my $s = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
          . "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=12.000\n"
          . "#EXT-X-PART-INF:PART-TARGET=0.200\n#EXT-X-MEDIA-SEQUENCE:$msn\n"
          . "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init-1.mp4\"\n";
    for my $i (0 .. $n - 1) {
        my $m = $msn + $i;
        $s .= '#EXT-X-PROGRAM-DATE-TIME:' . date($t0 + 2 * $i) . "\n";
        if ($i >= $n - 2) {
            $s .= sprintf "#EXT-X-PART:DURATION=0.200,URI=\"part-%d.%d.m4s\"%s\n", $m, $_,
                          $_ % 5 ? '' : ',INDEPENDENT=YES' for 0 .. 9;
        }
        $s .= "#EXTINF:2.000,\nseg-$m.m4s\n";
    }
    my $m = $msn + $n;
    $s .= '#EXT-X-PROGRAM-DATE-TIME:' . date($t0 + 2 * $n) . "\n";
    $s .= sprintf "#EXT-X-PART:DURATION=0.200,URI=\"part-%d.%d.m4s\"%s\n", $m, $_,
                  $_ % 5 ? '' : ',INDEPENDENT=YES' for 0 .. $open - 1;
    $s .= "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-$m.$open.m4s\"\n";
    return $s;
}

sub date {
    my ($t) = @_;
    my @g = gmtime int $t;
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $g[5] + 1900, $g[4] + 1,
                   @g[3, 2, 1, 0], int(($t - int $t) * 1000 + 0.5);
}

my $classic = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
            . "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init-1.mp4\"\n"
            . join '', map { '#EXT-X-PROGRAM-DATE-TIME:' . date(1795000000 + 2 * $_)
                             . "\n#EXTINF:2.000,\nseg-" . (7 + $_) . ".m4s\n" } 0 .. 3;

my $multi = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
          . "#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=900000,"
          . "CODECS=\"avc1.42c01e,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000\nindex.m3u8\n";

sub rules { my %r = map { $_->{rule} => 1 } @_; return \%r }
sub show { join "\n", map { BarHls::Checker::to_string($_) } @_ }

for my $good (['LL-HLS', ll()], ['LL-HLS, one segment', ll(segments => 1)],
              ['classic', $classic], ['multivariant', $multi],
              ['open segment without parts yet', ll(open => 0)]) {
    my @v = BarHls::Checker::check_text($good->[1]);
    ok(!@v, "good: $good->[0] passes") or diag(show(@v) . "\n$good->[1]");
}

# [rule, what, playlist]: the playlist must break at least that rule
my @bad = (
    ['extm3u', 'no #EXTM3U', ll() =~ s/\A#EXTM3U\n//r],
    ['bom', 'a BOM', "\xEF\xBB\xBF" . $classic],
    ['control-character', 'a NUL', $classic =~ s/seg-8/seg\x00-8/r],
    ['targetduration-required', 'no TARGETDURATION', $classic =~ s/#EXT-X-TARGETDURATION:2\n//r],
    ['targetduration-syntax', 'TARGETDURATION 0', $classic =~ s/TARGETDURATION:2/TARGETDURATION:0/r],
    ['tag-once', 'two TARGETDURATIONs', $classic =~ s/(#EXT-X-TARGETDURATION:2\n)/$1$1/r],
    ['sequence-placement', 'MEDIA-SEQUENCE after a segment', $classic =~ s/#EXT-X-MEDIA-SEQUENCE:7\n//r =~ s/(seg-7.m4s\n)/$1#EXT-X-MEDIA-SEQUENCE:7\n/r],
    ['extinf-required', 'a URI without EXTINF', $classic =~ s/#EXTINF:2.000,\n(seg-8)/$1/r],
    ['extinf-syntax', 'EXTINF without comma', $classic =~ s/#EXTINF:2.000,\nseg-8/#EXTINF:2.000\nseg-8/r],
    ['extinf-target', 'EXTINF 2.5 with TARGETDURATION 2', $classic =~ s/#EXTINF:2.000,\nseg-8/#EXTINF:2.500,\nseg-8/r],
    ['version', 'EXT-X-MAP with version 5', $classic =~ s/VERSION:7/VERSION:5/r],
    ['map-before-segment', 'no EXT-X-MAP in fMP4', $classic =~ s/#EXT-X-MAP:URI="init-1.mp4"\n//r],
    ['pdt-syntax', 'a date without time zone', $classic =~ s/(PROGRAM-DATE-TIME:[^\n]+)Z/$1/r],
    ['pdt-order', 'a date going back', $classic =~ s/(PROGRAM-DATE-TIME:)([^\n]+)(\n#EXTINF:2.000,\nseg-9)/$1 . date(1795000000) . $3/er],
    ['pdt-overlap', 'segments overlapping by 1.5 s', $classic =~ s/(PROGRAM-DATE-TIME:)([^\n]+)(\n#EXTINF:2.000,\nseg-9)/$1 . date(1795000000 + 2.5) . $3/er],
    ['pdt-after-discontinuity', 'a discontinuity without a date', $classic =~ s/#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n(#EXTINF:2.000,\nseg-9)/#EXT-X-DISCONTINUITY\n$1/r],
    ['mixed-playlist', 'STREAM-INF in a media playlist', $classic . "#EXT-X-STREAM-INF:BANDWIDTH=1\nx.m3u8\n"],
    ['attribute-list', 'a broken attribute list', ll() =~ s/PART-TARGET=0.200/PART-TARGET=0.200,,X/r],
    ['attribute-value', 'INDEPENDENT=NO', ll() =~ s/,INDEPENDENT=YES/,INDEPENDENT=NO/r],
    ['attribute-required', 'a part without DURATION', ll() =~ s/DURATION=0.200,(URI="part-102.3)/$1/r],
    ['part-inf-required', 'parts without PART-INF', ll() =~ s/#EXT-X-PART-INF:PART-TARGET=0.200\n//r],
    ['part-hold-back-required', 'no PART-HOLD-BACK', ll() =~ s/PART-HOLD-BACK=0.600,//r],
    ['part-hold-back-min', 'PART-HOLD-BACK < 2 x PART-TARGET', ll() =~ s/PART-HOLD-BACK=0.600/PART-HOLD-BACK=0.300/r],
    ['part-hold-back-3x', 'PART-HOLD-BACK < 3 x PART-TARGET', ll() =~ s/PART-HOLD-BACK=0.600/PART-HOLD-BACK=0.500/r],
    ['hold-back-min', 'HOLD-BACK < 3 x TARGETDURATION', ll() =~ s/CAN-BLOCK-RELOAD=YES/CAN-BLOCK-RELOAD=YES,HOLD-BACK=5.0/r],
    ['can-skip-until-min', 'CAN-SKIP-UNTIL < 6 x TARGETDURATION', ll() =~ s/CAN-SKIP-UNTIL=12.000/CAN-SKIP-UNTIL=11.000/r],
    ['can-skip-dateranges', 'CAN-SKIP-DATERANGES alone', ll() =~ s/,CAN-SKIP-UNTIL=12.000/,CAN-SKIP-DATERANGES=YES/r],
    ['part-duration-max', 'a part longer than PART-TARGET', ll() =~ s/DURATION=0.200,(URI="part-102.3)/DURATION=0.210,$1/r],
    ['part-duration-min', 'a short part inside a segment', ll() =~ s/DURATION=0.200,(URI="part-102.3)/DURATION=0.160,$1/r],
    ['part-sum', 'parts not adding up to the segment', ll() =~ s/(part-102.9.m4s"\n#EXTINF:)2.000/${1}1.900/r],
    ['part-too-old', 'parts 4 target durations from the end', ll(segments => 6) =~ s/(#EXTINF:2.000,\nseg-101.m4s)/join('', map { sprintf qq{#EXT-X-PART:DURATION=0.200,URI="part-101.%d.m4s"\n}, $_ } 0 .. 9) . $1/er],
    ['part-independent', 'a first part without INDEPENDENT=YES', ll() =~ s/(part-102.0.m4s"),INDEPENDENT=YES/$1/r],
    ['tags-before-first-part', 'a date after the first part', ll() =~ s/(#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n)(#EXT-X-PART:[^\n]+part-103.0.m4s[^\n]*\n)/$2$1/r],
    ['preload-hint-type', 'TYPE=SEGMENT', ll() =~ s/TYPE=PART/TYPE=SEGMENT/r],
    ['preload-hint-once', 'two part hints', ll() =~ s/(#EXT-X-PRELOAD-HINT:[^\n]+\n)/$1#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-103.4.m4s"\n/r],
    ['preload-hint-endlist', 'a hint with ENDLIST', ll() . "#EXT-X-ENDLIST\n"],
    ['preload-hint-placement', 'a hint before the last part', ll() =~ s/(#EXT-X-PRELOAD-HINT:[^\n]+\n)//r =~ s/(#EXT-X-PART:[^\n]+part-103.2.m4s"\n)/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-103.3.m4s"\n$1/r],
    ['preload-hint-listed', 'a hint for a listed part', ll() =~ s/URI="part-103.3.m4s"/URI="part-103.2.m4s"/r],
    ['skip-without-can-skip', 'SKIP without CAN-SKIP-UNTIL', ll() =~ s/,CAN-SKIP-UNTIL=12.000//r =~ s/(#EXT-X-INDEPENDENT-SEGMENTS\n)/$1#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n/r],
    ['skip-placement', 'SKIP after a segment', ll() =~ s/(seg-100.m4s\n)/$1#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n/r],
    ['skip-boundary', 'a delta listing segments beyond the boundary', ll(segments => 9) =~ s/CAN-SKIP-UNTIL=12.000/CAN-SKIP-UNTIL=12.000/r =~ s/(#EXT-X-INDEPENDENT-SEGMENTS\n)/$1#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n/r],
    ['stream-inf-uri', 'STREAM-INF without URI', $multi =~ s/index.m3u8\n//r],
    ['attribute-required', 'STREAM-INF without BANDWIDTH', $multi =~ s/BANDWIDTH=1200000,//r],
    ['stream-inf-bandwidth', 'BANDWIDTH=0', $multi =~ s/BANDWIDTH=1200000,AVERAGE-BANDWIDTH=900000/BANDWIDTH=0/r],
    ['tag-syntax', 'EXT-X-VERSION:x', $classic =~ s/VERSION:7/VERSION:x/r],
    ['dseq-placement', 'DISCONTINUITY-SEQUENCE after a DISCONTINUITY', $classic =~ s/(#EXT-X-MEDIA-SEQUENCE:7
)/#EXT-X-DISCONTINUITY
#EXT-X-DISCONTINUITY-SEQUENCE:1
$1/r],
    ['preload-hint-without-parts', 'a part hint in a classic playlist', $classic . "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p.m4s\"\n"],
    ['stream-inf-codecs', 'STREAM-INF without CODECS', $multi =~ s/CODECS="[^"]+",//r],
    ['stream-inf-resolution', 'video without RESOLUTION', $multi =~ s/RESOLUTION=640x360,//r],
    ['apple-average-bandwidth', 'no AVERAGE-BANDWIDTH', $multi =~ s/AVERAGE-BANDWIDTH=900000,//r],
    ['apple-frame-rate', 'video without FRAME-RATE', $multi =~ s/,FRAME-RATE=25.000//r],
    ['average-bandwidth-above-peak', 'AVERAGE-BANDWIDTH > BANDWIDTH', $multi =~ s/AVERAGE-BANDWIDTH=900000/AVERAGE-BANDWIDTH=1300000/r],
    ['multivariant-empty', 'a multivariant playlist without variants', "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\",URI=\"a.m3u8\"\n"],
    ['apple-independent-segments', 'no INDEPENDENT-SEGMENTS', $classic =~ s/#EXT-X-INDEPENDENT-SEGMENTS\n//r],
    ['apple-program-date-time', 'a live playlist without dates', $classic =~ s/#EXT-X-PROGRAM-DATE-TIME[^\n]*\n//gr],
    ['apple-ll-blocking', 'parts without blocking reloads', ll() =~ s/CAN-BLOCK-RELOAD=YES,//r],
);
my %covered;
for my $b (@bad) {
    my ($rule, $what, $text) = @$b;
    my @v = BarHls::Checker::check_text($text);
    ok(rules(@v)->{$rule}, "bad: $what -> $rule") or diag(show(@v) . "\n$text");
    $covered{$rule}++;
}

# ------------------------------------------------ successive reloads

sub seq_ok {
    my ($name, $want, @texts) = @_;
    my $c = BarHls::Checker->new;
    my @v;
    push @v, $c->check('http://127.0.0.1:1/live/a/index.m3u8?_HLS_msn=1', $_) for @texts;
    if (defined $want) {
        ok(rules(@v)->{$want}, "reloads: $name -> $want") or diag(show(@v));
        $covered{$want}++;
    } else {
        ok(!@v, "reloads: $name pass") or diag(show(@v));
    }
    return $c;
}

seq_ok('the window moving on', undef, ll(), ll(open => 5), ll(msn => 101, t0 => 1795000002));
seq_ok('MEDIA-SEQUENCE going down', 'media-sequence-decreased', ll(msn => 101, t0 => 1795000002), ll());
seq_ok('a window growing at the start', undef, ll(segments => 1), ll(segments => 2));
seq_ok('removing segments below 3 target durations', 'live-duration', ll(segments => 2),
       ll(segments => 2, msn => 101, t0 => 1795000002));
seq_ok('a stream starting over (no segment in common)', undef, ll(segments => 3),
       ll(segments => 1, msn => 5000, t0 => 1795010000));
seq_ok('TARGETDURATION changing', 'targetduration-changed', ll(), ll() =~ s/TARGETDURATION:2/TARGETDURATION:3/r);
seq_ok('DISCONTINUITY-SEQUENCE going down', 'discontinuity-sequence-decreased',
       ll() =~ s/(#EXT-X-MEDIA-SEQUENCE:100\n)/$1#EXT-X-DISCONTINUITY-SEQUENCE:3\n/r,
       ll() =~ s/(#EXT-X-MEDIA-SEQUENCE:100\n)/$1#EXT-X-DISCONTINUITY-SEQUENCE:2\n/r);
seq_ok('a number naming another segment', 'msn-uri-changed', ll(), ll() =~ s/seg-101.m4s/seg-999.m4s/r);
seq_ok('a URI under another number', 'uri-msn-changed', ll(), ll(msn => 103, t0 => 1795000006) =~ s/seg-103.m4s/seg-102.m4s/r);
seq_ok('an EXTINF changing', 'extinf-changed', ll(), ll() =~ s/#EXTINF:2.000,\nseg-100/#EXTINF:1.900,\nseg-100/r);
seq_ok('a date moving', 'pdt-changed', ll(), ll(t0 => 1795000000.5));
seq_ok('a discontinuity appearing in the past', 'discontinuity-number-changed', ll(),
       ll() =~ s/(#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:2.000,\nseg-100)/#EXT-X-DISCONTINUITY\n$1/r);
# the open segment 103 closes after 9 parts: the hint named its 10th
my $closed = ll(open => 1) =~ s/#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXT-X-PART:[^\n]+part-103.0[^\n]*\n#EXT-X-PRELOAD-HINT[^\n]*\n//r
    . '#EXT-X-PROGRAM-DATE-TIME:' . date(1795000006) . "\n"
    . join('', map { sprintf qq{#EXT-X-PART:DURATION=0.200,URI="part-103.%d.m4s"%s\n}, $_, $_ % 5 ? '' : ',INDEPENDENT=YES' } 0 .. 8)
    . "#EXTINF:1.800,\nseg-103.m4s\n#EXT-X-PROGRAM-DATE-TIME:" . date(1795000007.8) . "\n"
    . "#EXT-X-PART:DURATION=0.200,URI=\"part-104.0.m4s\",INDEPENDENT=YES\n"
    . "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-104.1.m4s\"\n";
seq_ok('a hint that never comes (the segment closed first)', 'preload-hint-broken', ll(open => 9), $closed);
# the same with part names that do not depend on the segment: kept
seq_ok('a hint that comes true in the next segment', undef, ll(open => 9),
       $closed =~ s/part-104.0.m4s/part-103.9.m4s/r);
# a delta update: SKIPPED-SEGMENTS must put the first listed segment at
# the number the full playlist gave it
my $full = ll(segments => 8);
my $delta = $full =~ s/(#EXT-X-MAP:[^\n]+\n)(?:#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:2.000,\nseg-10[01].m4s\n)+/#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n/r;
seq_ok('a delta update after the full playlist', undef, $full, $delta);
seq_ok('a delta update with a wrong count', 'skip-count', $full, $delta =~ s/SKIPPED-SEGMENTS=2/SKIPPED-SEGMENTS=3/r);
{
    my $c = seq_ok('reset() forgets', undef, ll(msn => 101, t0 => 1795000002));
    $c->reset;
    ok(!$c->check('http://127.0.0.1:1/live/a/index.m3u8', ll()), 'reloads: after reset() a lower MEDIA-SEQUENCE is fine');
}

# every rule the checker knows has a failing example above
my $src = do { local (@ARGV, $/) = ($INC{'BarHls/Checker.pm'}, $INC{'BarHls/Checker/Parse.pm'}); join '', <> };
my %known = map { $_ => 1 } $src =~ /violation\('([a-z0-9-]+)'/g;
my @untested = grep { !$covered{$_} } sort keys %known;
ok(!@untested, 'every rule has a failing example') or diag("untested: @untested");

# the command-line wrapper
{
    my $tool = 't/tools/check-playlist';
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $fh, '>', "$dir/bad.m3u8" or die $!;
    print $fh $classic =~ s/#EXTINF:2.000,\nseg-8/#EXTINF:2.500,\nseg-8/r;
    close $fh;
    my $out = `$^X $tool $dir/bad.m3u8`;
    is($? >> 8, 1, 'check-playlist: exit 1 on a violation');
    like($out, qr/extinf-target \(MUST\)/, 'check-playlist: names the rule');
    open $fh, '>', "$dir/pl.jsonl" or die $!;
    print $fh JSON::PP::encode_json({ client => 'a', url => 'http://x/i.m3u8', status => 200, body => ll() }), "\n";
    print $fh JSON::PP::encode_json({ client => 'a', url => 'http://x/i.m3u8', status => 503, body => 'no' }), "\n";
    close $fh;
    $out = `$^X $tool --json --jsonl $dir/pl.jsonl`;
    is($? >> 8, 0, 'check-playlist --jsonl: exit 0 when clean');
    is($out, "[]\n", 'check-playlist --json: an empty list');
}

done_testing();
