package BarHls::Checker::Parse;

# The parser behind BarHls::Checker: a playlist's lines into segments,
# parts, hints and attributes (RFC 8216bis section 4), with the syntax
# violations found on the way.  See BarHls::Checker.

use strict;
use warnings;

use Exporter 'import';
use Time::Local ();

our @EXPORT_OK = qw(parse violation to_string unquote $EPS);

# how close two decimal durations must be (they are printed to 1 ms)
our $EPS = 0.0005 + 1e-9;

# ------------------------------------------------------------- parsing

# attribute types (4.2) of the tags we check; other attributes are
# ignored as clients must
my %ATTR = (
    'EXT-X-PART' => { URI => 'q', DURATION => 'f', INDEPENDENT => 'YES',
                      BYTERANGE => 'q', GAP => 'YES' },
    'EXT-X-PART-INF' => { 'PART-TARGET' => 'f' },
    'EXT-X-SERVER-CONTROL' => { 'CAN-SKIP-UNTIL' => 'f',
                                'CAN-SKIP-DATERANGES' => 'YES',
                                'HOLD-BACK' => 'f', 'PART-HOLD-BACK' => 'f',
                                'CAN-BLOCK-RELOAD' => 'YES' },
    'EXT-X-PRELOAD-HINT' => { TYPE => 'PART|MAP', URI => 'q',
                              'BYTERANGE-START' => 'i',
                              'BYTERANGE-LENGTH' => 'i' },
    'EXT-X-SKIP' => { 'SKIPPED-SEGMENTS' => 'i',
                      'RECENTLY-REMOVED-DATERANGES' => 'q' },
    'EXT-X-MAP' => { URI => 'q', BYTERANGE => 'q' },
    'EXT-X-RENDITION-REPORT' => { URI => 'q', 'LAST-MSN' => 'i',
                                  'LAST-PART' => 'i' },
    'EXT-X-STREAM-INF' => { BANDWIDTH => 'i', 'AVERAGE-BANDWIDTH' => 'i',
                            CODECS => 'q', RESOLUTION => 'r',
                            'FRAME-RATE' => 'f', SCORE => 'f',
                            'HDCP-LEVEL' => 'TYPE-0|TYPE-1|NONE',
                            AUDIO => 'q', VIDEO => 'q', SUBTITLES => 'q' },
);
my %REQUIRED = (
    'EXT-X-PART' => [qw(URI DURATION)],
    'EXT-X-PART-INF' => ['PART-TARGET'],
    'EXT-X-PRELOAD-HINT' => [qw(TYPE URI)],
    'EXT-X-SKIP' => ['SKIPPED-SEGMENTS'],
    'EXT-X-MAP' => ['URI'],
    'EXT-X-RENDITION-REPORT' => [qw(URI LAST-MSN)],
    'EXT-X-STREAM-INF' => ['BANDWIDTH'],
);
my %VALUE = (
    q => qr/\A"[^"\r\n]*"\z/,
    f => qr/\A-?[0-9]+(?:\.[0-9]+)?\z/,
    i => qr/\A[0-9]{1,20}\z/,
    r => qr/\A[0-9]+x[0-9]+\z/,
);
# tags that may appear once in a media playlist (4.4.3)
my @ONCE = qw(EXT-X-TARGETDURATION EXT-X-MEDIA-SEQUENCE
              EXT-X-DISCONTINUITY-SEQUENCE EXT-X-ENDLIST EXT-X-PLAYLIST-TYPE
              EXT-X-I-FRAMES-ONLY EXT-X-PART-INF EXT-X-SERVER-CONTROL
              EXT-X-VERSION EXT-X-INDEPENDENT-SEGMENTS EXT-X-START
              EXT-X-SKIP);
my %MEDIA_ONLY = map { $_ => 1 } qw(EXTINF EXT-X-TARGETDURATION
    EXT-X-MEDIA-SEQUENCE EXT-X-DISCONTINUITY-SEQUENCE EXT-X-ENDLIST
    EXT-X-PLAYLIST-TYPE EXT-X-I-FRAMES-ONLY EXT-X-PART-INF
    EXT-X-SERVER-CONTROL EXT-X-BYTERANGE EXT-X-DISCONTINUITY EXT-X-KEY
    EXT-X-MAP EXT-X-PROGRAM-DATE-TIME EXT-X-GAP EXT-X-BITRATE EXT-X-PART
    EXT-X-SKIP EXT-X-PRELOAD-HINT EXT-X-RENDITION-REPORT);
my %MULTI_ONLY = map { $_ => 1 } qw(EXT-X-MEDIA EXT-X-STREAM-INF
    EXT-X-I-FRAME-STREAM-INF EXT-X-SESSION-DATA EXT-X-SESSION-KEY
    EXT-X-CONTENT-STEERING);

sub violation {
    my ($rule, $level, $line, $msg) = @_;
    return { rule => $rule, level => $level, line => $line, message => $msg };
}

sub to_string {
    my ($v) = @_;
    return "$v->{rule} ($v->{level}): $v->{message}"
           . (defined $v->{line} ? " [line $v->{line}]" : '');
}

# "2026-11-25T09:08:00.614Z" (or +hh:mm) -> epoch seconds, or undef
sub parse_date {
    my ($s) = @_;
    my ($y, $mo, $d, $h, $mi, $sec, $frac, $tz) = $s =~
        /\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)\z/
        or return;
    my $t = eval { Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y) };
    return unless defined $t;
    $t += $frac if defined $frac;
    if ($tz ne 'Z') {
        my ($sign, $th, $tm) = $tz =~ /([+-])(\d\d):?(\d\d)/;
        $t -= ($sign eq '-' ? -1 : 1) * ($th * 3600 + $tm * 60);
    }
    return $t;
}

# attribute list (4.2) -> ({NAME => raw value}, error or undef)
sub parse_attrs {
    my ($s) = @_;
    my %a;
    pos($s) = 0;
    while (pos($s) < length $s) {
        $s =~ /\G([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]+)(?:,|\z)/gc
            or return (\%a, 'bad attribute list at "' . substr($s, pos($s) // 0, 30) . '"');
        return (\%a, "attribute $1 twice") if exists $a{$1};
        $a{$1} = $2;
    }
    return (\%a, undef);
}

sub unquote { my ($v) = @_; return defined $v && $v =~ /\A"(.*)"\z/s ? $1 : $v }

# A playlist's structure, and the syntax violations found on the way:
# { type => media|multivariant, version, target, sequence, dseq,
#   independent, endlist, part_target, sc => {attrs}, skip => n, skip_line,
#   hints => [{type, uri, line}], segments => [seg], open => [part],
#   variants => [{attrs, uri, line}], first_segment_line, map_lines => [] }
# seg: { uri, msn, duration, extinf_line, pdt, pdt_line, disc, dnum, map,
#        gap, parts => [part], line };  part: { uri, duration, independent,
#        gap, line }
sub parse {
    my ($text) = @_;
    my @v;
    my %pl = (segments => [], open => [], hints => [], variants => [],
              tags => {}, sc => {});
    $text //= '';
    if ($text =~ /\A\xEF\xBB\xBF/) {
        push @v, violation('bom', 'MUST', 1, 'a Byte Order Mark (4.1)');
    }
    if ($text =~ /([\x00-\x09\x0B\x0C\x0E-\x1F\x7F])/) {
        push @v, violation('control-character', 'MUST', undef,
                           sprintf('control character 0x%02x (4.1)', ord $1));
    }
    my @lines = split /\r?\n/, $text, -1;
    pop @lines if @lines && $lines[-1] eq '';
    if (!@lines || $lines[0] ne '#EXTM3U') {
        push @v, violation('extm3u', 'MUST', 1, 'the first line is not #EXTM3U (4.4.1.1)');
        return (\%pl, @v);
    }
    my (%seg, @parts_of_next, $dnum_add, $pending_uri_for);
    my $map;
    $dnum_add = 0;
    my $msn_next;       # set once MEDIA-SEQUENCE (or its absence) is known
    for my $n (1 .. $#lines) {
        my $line = $lines[$n];
        my $ln = $n + 1;
        next if $line eq '';
        if ($line !~ /^#/) {
            # a URI line
            if ($pending_uri_for) {
                $pending_uri_for->{uri} = $line;
                undef $pending_uri_for;
                next;
            }
            $pl{first_segment_line} //= $ln;
            my %s = (%seg, uri => $line, line => $ln, parts => [@parts_of_next],
                     map => $map, dnum_add => $dnum_add);
            push @v, violation('extinf-required', 'MUST', $ln, "segment $line has no EXTINF (4.4.4.1)")
                unless defined $s{duration};
            push @{ $pl{segments} }, \%s;
            %seg = ();
            @parts_of_next = ();
            next;
        }
        next unless $line =~ /^#EXT/;
        my ($name, $value) = $line =~ /^(#EXT[A-Z0-9-]*)(?::(.*))?$/;
        if (!defined $name) {
            push @v, violation('tag-syntax', 'MUST', $ln, "malformed tag line $line");
            next;
        }
        $name =~ s/^#//;
        $pl{tags}{$name}++;
        my ($attrs, $err);
        if ($ATTR{$name}) {
            ($attrs, $err) = parse_attrs($value // '');
            if (defined $err) {
                push @v, violation('attribute-list', 'MUST', $ln, "$name: $err (4.2)");
            }
            for my $k (sort keys %$attrs) {
                my $type = $ATTR{$name}{$k} or next;
                my $raw = $attrs->{$k};
                my $ok = $VALUE{$type} ? $raw =~ $VALUE{$type}
                       : $raw =~ /\A(?:$type)\z/;
                push @v, violation('attribute-value', 'MUST', $ln, "$name $k=$raw is not of its type (4.2)")
                    unless $ok;
            }
            for my $k (@{ $REQUIRED{$name} || [] }) {
                push @v, violation('attribute-required', 'MUST', $ln, "$name without $k")
                    unless exists $attrs->{$k};
            }
        }
        if ($name eq 'EXT-X-VERSION') {
            if (($value // '') =~ /\A[0-9]+\z/) { $pl{version} = $value }
            else { push @v, violation('tag-syntax', 'MUST', $ln, "EXT-X-VERSION:$value") }
        } elsif ($name eq 'EXT-X-TARGETDURATION') {
            if (($value // '') =~ /\A[0-9]+\z/ && $value >= 1) { $pl{target} = $value }
            else { push @v, violation('targetduration-syntax', 'MUST', $ln, "EXT-X-TARGETDURATION:" . ($value // '') . ' is not a decimal-integer >= 1 (4.4.3.1)') }
        } elsif ($name eq 'EXT-X-MEDIA-SEQUENCE' || $name eq 'EXT-X-DISCONTINUITY-SEQUENCE') {
            my $key = $name eq 'EXT-X-MEDIA-SEQUENCE' ? 'sequence' : 'dseq';
            if (($value // '') =~ /\A[0-9]{1,20}\z/) { $pl{$key} = $value }
            else { push @v, violation('tag-syntax', 'MUST', $ln, "$name:" . ($value // '')) }
            push @v, violation("$key-placement", 'MUST', $ln, "$name after the first segment (4.4.3.2/3)")
                if $pl{first_segment_line} || @parts_of_next || %seg;
            push @v, violation('dseq-placement', 'MUST', $ln, 'EXT-X-DISCONTINUITY-SEQUENCE after an EXT-X-DISCONTINUITY (4.4.3.3)')
                if $key eq 'dseq' && $dnum_add;
        } elsif ($name eq 'EXT-X-INDEPENDENT-SEGMENTS') {
            $pl{independent} = 1;
        } elsif ($name eq 'EXT-X-ENDLIST') {
            $pl{endlist} = 1;
        } elsif ($name eq 'EXTINF') {
            if (($value // '') =~ /\A([0-9]+(?:\.[0-9]+)?),(.*)\z/) {
                $seg{duration} = $1;
                $seg{extinf_line} = $ln;
            } else {
                push @v, violation('extinf-syntax', 'MUST', $ln, 'EXTINF:' . ($value // '') . ' (4.4.4.1)');
                $seg{duration} = 0;
            }
        } elsif ($name eq 'EXT-X-PROGRAM-DATE-TIME') {
            my $t = parse_date($value // '');
            push @v, violation('pdt-syntax', 'MUST', $ln, 'EXT-X-PROGRAM-DATE-TIME:' . ($value // '') . ' is not an ISO 8601 date with time zone (4.4.4.6)')
                unless defined $t;
            $seg{pdt} = $t;
            $seg{pdt_line} = $ln;
            push @v, violation('tags-before-first-part', 'MUST', $ln, 'EXT-X-PROGRAM-DATE-TIME after an EXT-X-PART of its segment (4.4.4.9)')
                if @parts_of_next;
        } elsif ($name eq 'EXT-X-DISCONTINUITY') {
            $seg{disc} = 1;
            $dnum_add++;
            push @v, violation('tags-before-first-part', 'MUST', $ln, 'EXT-X-DISCONTINUITY after an EXT-X-PART of its segment (4.4.4.9)')
                if @parts_of_next;
        } elsif ($name eq 'EXT-X-GAP') {
            $seg{gap} = 1;
        } elsif ($name eq 'EXT-X-MAP') {
            $map = unquote($attrs->{URI});
            push @{ $pl{map_lines} }, $ln;
            push @v, violation('tags-before-first-part', 'MUST', $ln, 'EXT-X-MAP after an EXT-X-PART of its segment (4.4.4.9)')
                if @parts_of_next;
        } elsif ($name eq 'EXT-X-PART') {
            push @parts_of_next, { uri => unquote($attrs->{URI}), duration => $attrs->{DURATION},
                                   independent => ($attrs->{INDEPENDENT} // '') eq 'YES',
                                   gap => ($attrs->{GAP} // '') eq 'YES', line => $ln,
                                   map => $map };
        } elsif ($name eq 'EXT-X-PART-INF') {
            $pl{part_target} = $attrs->{'PART-TARGET'};
        } elsif ($name eq 'EXT-X-SERVER-CONTROL') {
            $pl{sc} = $attrs;
        } elsif ($name eq 'EXT-X-PRELOAD-HINT') {
            push @{ $pl{hints} }, { type => $attrs->{TYPE} // '', uri => unquote($attrs->{URI}), line => $ln };
        } elsif ($name eq 'EXT-X-SKIP') {
            $pl{skip} = $attrs->{'SKIPPED-SEGMENTS'};
            $pl{skip_line} = $ln;
            push @v, violation('skip-placement', 'MUST', $ln, 'EXT-X-SKIP after the first segment (4.4.5.2: it replaces the oldest segments)')
                if $pl{first_segment_line} || @parts_of_next;
        } elsif ($name eq 'EXT-X-STREAM-INF') {
            my %var = (attrs => $attrs, line => $ln);
            push @{ $pl{variants} }, \%var;
            $pending_uri_for = \%var;
        }
    }
    push @v, violation('stream-inf-uri', 'MUST', $pending_uri_for->{line}, 'EXT-X-STREAM-INF without a URI line after it (4.4.6.2)')
        if $pending_uri_for;
    $pl{open} = \@parts_of_next;
    $pl{open_map} = $map;
    $pl{open_dnum_add} = $dnum_add;
    $pl{open_pdt} = $seg{pdt};
    $pl{open_disc} = $seg{disc};
    my $media = grep { $MEDIA_ONLY{$_} } keys %{ $pl{tags} };
    my $multi = grep { $MULTI_ONLY{$_} } keys %{ $pl{tags} };
    if ($media && $multi) {
        push @v, violation('mixed-playlist', 'MUST', undef, 'both Media Segment tags and Multivariant Playlist tags (4.4.4)');
    }
    $pl{type} = $multi ? 'multivariant' : 'media';
    for my $tag (@ONCE) {
        push @v, violation('tag-once', 'MUST', undef, "$tag appears $pl{tags}{$tag} times (4.4.3)")
            if ($pl{tags}{$tag} // 0) > 1;
    }
    # numbers: MEDIA-SEQUENCE (or 0) counts the skipped segments too
    my $msn = ($pl{sequence} // 0) + ($pl{skip} // 0);
    my $dseq = $pl{dseq} // 0;
    for my $s (@{ $pl{segments} }) {
        $s->{msn} = $msn++;
        $s->{dnum} = $dseq + ($s->{dnum_add} // 0);
    }
    $pl{open_msn} = $msn;
    $pl{open_dnum} = $dseq + $dnum_add;
    return (\%pl, @v);
}

1;
