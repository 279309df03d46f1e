package BarHls::Checker;

# A playlist checker: HLS media and multivariant playlists against the
# rules of RFC 8216bis (draft-pantos-hls-rfc8216bis-22, Low-Latency HLS
# included) that a program can check, and the concrete ones of Apple's
# HLS Authoring Specification.  Plain Perl, no nginx needed.
#
#     my $c = BarHls::Checker->new;
#     my @v = $c->check($url, $text);      # stateful per URL (no query)
#     my @v = BarHls::Checker::check_text($text);   # one playlist alone
#     $c->reset;                           # forget every URL (restart)
#
# Each violation is a hash { rule, level, line, message } and prints as
# "rule (LEVEL): message [line N]" (to_string).  LEVEL is MUST (the RFC's
# MUST / MUST NOT / REQUIRED), SHOULD (its SHOULD / SHOULD NOT) or APPLE
# (the authoring specification).  A test fails on any of them.
#
# The stateful checks compare a playlist with the previous playlists of
# the same URL (query string dropped, so blocking reloads and delta
# updates share the history): MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE
# never go down, TARGETDURATION never changes, a Media Sequence Number
# keeps its URI, duration, date and Discontinuity Sequence Number, a URI
# keeps its number, a delta update's EXT-X-SKIP agrees with what the full
# playlist listed, and a preload hint comes true (its URI is listed as a
# part once the playlist has moved past it).  The history assumes the
# playlists come in the order the server made them: feed it one client's
# sequential requests, and reset() when nginx restarts (its zone and
# counters start over then).

use strict;
use warnings;

use Exporter 'import';

use BarHls::Checker::Parse qw(parse violation to_string unquote $EPS);

our @EXPORT_OK = qw(check_text parse to_string);

# --------------------------------------------------------- one playlist

# All violations of a playlist on its own.
sub check_text {
    my ($text) = @_;
    my ($pl, @v) = parse($text);
    return @v if !defined $pl->{type} || (@v && $v[0]{rule} eq 'extm3u');
    return (@v, $pl->{type} eq 'multivariant' ? check_multivariant($pl) : check_media($pl));
}

sub check_media {
    my ($pl) = @_;
    my @v;
    my @segs = @{ $pl->{segments} };
    my $td = $pl->{target};
    push @v, violation('targetduration-required', 'MUST', undef, 'no EXT-X-TARGETDURATION (4.4.3.1)')
        unless defined $td;
    my $version = $pl->{version} // 1;
    my $has_parts = @{ $pl->{open} } || grep { @{ $_->{parts} } } @segs;

    # versions (8): EXT-X-MAP in a media playlist needs 6, SKIP 9,
    # decimal EXTINF 3
    my $need = 1;
    $need = 3 if grep { ($_->{duration} // '') =~ /\./ } @segs;
    $need = 6 if $pl->{map_lines} && !$pl->{tags}{'EXT-X-I-FRAMES-ONLY'};
    $need = 9 if defined $pl->{skip};
    push @v, violation('version', 'MUST', undef, "EXT-X-VERSION $version, the tags need $need (8)")
        if $version < $need;

    # EXTINF vs TARGETDURATION (4.4.3.1)
    if (defined $td) {
        for my $s (@segs) {
            next unless defined $s->{duration};
            my $r = int($s->{duration} + 0.5);
            push @v, violation('extinf-target', 'MUST', $s->{extinf_line},
                               "EXTINF $s->{duration} rounds to $r > TARGETDURATION $td (4.4.3.1)")
                if $r > $td;
        }
    }

    # EXT-X-MAP before the first segment of an fMP4 playlist (4.4.4.5,
    # 3.1.2: fMP4 segments need their Media Initialization Section)
    my @fmp4 = grep { ($_->{uri} // '') =~ /\.(?:m4s|mp4|cmf[va])(?:\?|$)/ } @segs, @{ $pl->{open} };
    if (@fmp4) {
        my $first = $pl->{first_segment_line} // ($pl->{open}[0] && $pl->{open}[0]{line});
        my $first_map = $pl->{map_lines} ? $pl->{map_lines}[0] : undef;
        my $first_part = (map { $_->{line} } map { @{ $_->{parts} } } @segs)[0] // ($pl->{open}[0] && $pl->{open}[0]{line});
        $first = $first_part if defined $first_part && (!defined $first || $first_part < $first);
        push @v, violation('map-before-segment', 'MUST', $first, 'fMP4 media without an EXT-X-MAP before the first segment or part (4.4.4.5)')
            if defined $first && (!defined $first_map || $first_map > $first) && !$pl->{skip};
    }

    # PROGRAM-DATE-TIME: increasing, no overlap of a second or more (6.2.1)
    my $prev;
    for my $s (@segs) {
        if (defined $s->{pdt} && defined $prev && defined $prev->{pdt}) {
            my $step = $s->{pdt} - $prev->{pdt};
            push @v, violation('pdt-order', 'MUST', $s->{pdt_line},
                               sprintf('PROGRAM-DATE-TIME goes back or stands (%+.3fs after the previous segment) (6.2.1)', $step))
                if $step <= 0;
            push @v, violation('pdt-overlap', 'MUST', $s->{pdt_line},
                               sprintf('segment overlaps the previous one by %.3fs: only sub-second overlaps are allowed (6.2.1)',
                                       $prev->{duration} - $step))
                if $step > 0 && defined $prev->{duration} && $prev->{duration} - $step >= 1;
        }
        $prev = $s if defined $s->{pdt} || !defined $prev;
        # a segment without its own date: extrapolate from the previous
        $prev = { pdt => $prev->{pdt} + ($prev->{duration} // 0), duration => $s->{duration} }
            if !defined $s->{pdt} && defined $prev->{pdt} && $prev != $s;
    }
    # 6.2.1: with dates, every EXT-X-DISCONTINUITY segment SHOULD have one
    if (grep { defined $_->{pdt} } @segs) {
        for my $s (grep { $_->{disc} && !defined $_->{pdt} } @segs) {
            push @v, violation('pdt-after-discontinuity', 'SHOULD', $s->{line},
                               "discontinuity segment $s->{uri} without EXT-X-PROGRAM-DATE-TIME (6.2.1)");
        }
    }

    # --- Low-Latency HLS
    my $pt = $pl->{part_target};
    push @v, violation('part-inf-required', 'MUST', undef, 'EXT-X-PART without EXT-X-PART-INF (4.4.3.7)')
        if $has_parts && !defined $pt;
    my $sc = $pl->{sc} || {};
    if (defined $pt) {
        my $phb = $sc->{'PART-HOLD-BACK'};
        if (!defined $phb) {
            push @v, violation('part-hold-back-required', 'MUST', undef, 'EXT-X-PART-INF without PART-HOLD-BACK (4.4.3.8)');
        } elsif ($phb + $EPS < 2 * $pt) {
            push @v, violation('part-hold-back-min', 'MUST', undef, "PART-HOLD-BACK $phb < 2 x PART-TARGET $pt (4.4.3.8)");
        } elsif ($phb + $EPS < 3 * $pt) {
            push @v, violation('part-hold-back-3x', 'SHOULD', undef, "PART-HOLD-BACK $phb < 3 x PART-TARGET $pt (4.4.3.8)");
        }
    }
    if (defined $td) {
        push @v, violation('hold-back-min', 'MUST', undef, "HOLD-BACK $sc->{'HOLD-BACK'} < 3 x TARGETDURATION $td (4.4.3.8)")
            if defined $sc->{'HOLD-BACK'} && $sc->{'HOLD-BACK'} + $EPS < 3 * $td;
        push @v, violation('can-skip-until-min', 'MUST', undef, "CAN-SKIP-UNTIL $sc->{'CAN-SKIP-UNTIL'} < 6 x TARGETDURATION $td (4.4.3.8)")
            if defined $sc->{'CAN-SKIP-UNTIL'} && $sc->{'CAN-SKIP-UNTIL'} + $EPS < 6 * $td;
    }
    push @v, violation('can-skip-dateranges', 'MUST', undef, 'CAN-SKIP-DATERANGES without CAN-SKIP-UNTIL (4.4.3.8)')
        if exists $sc->{'CAN-SKIP-DATERANGES'} && !exists $sc->{'CAN-SKIP-UNTIL'};

    # part durations (4.4.4.9)
    if (defined $pt) {
        my @groups = ((map { [$_->{parts}, 1] } @segs), [$pl->{open}, 0]);
        for my $g (@groups) {
            my ($parts, $closed) = @$g;
            for my $i (0 .. $#$parts) {
                my $p = $parts->[$i];
                next unless defined $p->{duration};
                push @v, violation('part-duration-max', 'MUST', $p->{line},
                                   "part $p->{uri} DURATION $p->{duration} > PART-TARGET $pt (4.4.4.9)")
                    if $p->{duration} > $pt + 1e-9;
                my $final = $i == $#$parts;
                next if $final && !$closed;     # may still be the final one
                next if $final || $p->{independent} || $p->{gap}
                        || ($i < $#$parts && $parts->[$i + 1]{gap});
                push @v, violation('part-duration-min', 'MUST', $p->{line},
                                   "part $p->{uri} DURATION $p->{duration} < 85% of PART-TARGET $pt (4.4.4.9)")
                    if $p->{duration} < 0.85 * $pt - 1e-9;
            }
        }
        # a segment lists all its parts when the one before it still lists
        # some: parts go in playlist order (6.2.2)
        my @whole = map { $_ > 0 && @{ $segs[$_ - 1]{parts} } && @{ $segs[$_]{parts} } } 0 .. $#segs;
        # a Parent Segment and its parts hold the same samples (3.2): the
        # durations add up, give or take their rounding
        for my $i (grep { $whole[$_] && defined $segs[$_]{duration} } 0 .. $#segs) {
            my $s = $segs[$i];
            my $sum = 0;
            $sum += $_->{duration} // 0 for @{ $s->{parts} };
            push @v, violation('part-sum', 'MUST', $s->{extinf_line},
                               sprintf('parts of %s add up to %.3fs, EXTINF %s (3.2)', $s->{uri}, $sum, $s->{duration}))
                if abs($sum - $s->{duration}) > 0.001 * @{ $s->{parts} } + 0.0015;
        }
        # with EXT-X-INDEPENDENT-SEGMENTS every segment starts with an
        # independent frame, so its first part has one: INDEPENDENT=YES
        # (4.4.4.9, SHOULD)
        if ($pl->{independent}) {
            my @firsts = map { $segs[$_]{parts}[0] } grep { $whole[$_] } 0 .. $#segs;
            push @firsts, $pl->{open}[0]
                if @{ $pl->{open} } && (!@segs || @{ $segs[-1]{parts} });
            for my $p (grep { !$_->{independent} && !$_->{gap} } @firsts) {
                push @v, violation('part-independent', 'SHOULD', $p->{line},
                                   "first part $p->{uri} of a segment without INDEPENDENT=YES, under EXT-X-INDEPENDENT-SEGMENTS (4.4.4.9)");
            }
        }
    }
    # EXT-X-PART only near the live edge (6.2.2)
    if (defined $td && $has_parts) {
        my $after = 0;
        $after += $_->{duration} // 0 for @{ $pl->{open} };
        for my $s (reverse @segs) {
            if (@{ $s->{parts} } && $after > 3 * $td + $EPS) {
                push @v, violation('part-too-old', 'SHOULD', $s->{parts}[0]{line},
                                   sprintf('EXT-X-PART tags of %s end %.3fs before the end of the playlist: remove them after 3 x TARGETDURATION = %ds (6.2.2)',
                                           $s->{uri}, $after, 3 * $td));
                last;
            }
            $after += $s->{duration} // 0;
        }
    }
    # preload hints (4.4.5.3, 6.2.6)
    my %types;
    for my $h (@{ $pl->{hints} }) {
        push @v, violation('preload-hint-type', 'MUST', $h->{line}, "EXT-X-PRELOAD-HINT TYPE=$h->{type} (4.4.5.3)")
            unless $h->{type} =~ /\A(?:PART|MAP)\z/;
        push @v, violation('preload-hint-once', 'SHOULD', $h->{line}, "more than one EXT-X-PRELOAD-HINT TYPE=$h->{type} (6.2.6)")
            if $types{$h->{type}}++;
        push @v, violation('preload-hint-endlist', 'MUST', $h->{line}, 'EXT-X-PRELOAD-HINT in a playlist with EXT-X-ENDLIST (4.4.5.3)')
            if $pl->{endlist};
        my $last = $pl->{open}[-1] ? $pl->{open}[-1]{line} : @segs ? $segs[-1]{line} : 0;
        push @v, violation('preload-hint-placement', 'MUST', $h->{line}, 'EXT-X-PRELOAD-HINT before the last segment or part: it names the next resource')
            if $h->{line} < $last;
        my @listed = grep { defined $_->{uri} && defined $h->{uri} && $_->{uri} eq $h->{uri} }
                     (map { @{ $_->{parts} } } @segs), @{ $pl->{open} };
        push @v, violation('preload-hint-listed', 'MUST', $h->{line}, "EXT-X-PRELOAD-HINT names $h->{uri}, already listed as a part (6.2.6)")
            if @listed && $h->{type} eq 'PART';
        push @v, violation('preload-hint-without-parts', 'MUST', $h->{line}, 'TYPE=PART hint without EXT-X-PART-INF (4.4.3.7)')
            if $h->{type} eq 'PART' && !defined $pt;
    }
    # EXT-X-SKIP (4.4.5.2)
    if (defined $pl->{skip}) {
        push @v, violation('skip-without-can-skip', 'MUST', $pl->{skip_line}, 'EXT-X-SKIP but no CAN-SKIP-UNTIL (6.2.5.1)')
            unless defined $sc->{'CAN-SKIP-UNTIL'};
        if (defined $sc->{'CAN-SKIP-UNTIL'}) {
            # what stayed must be within reach of the Skip Boundary: a
            # listed segment starting further than it from the end should
            # have been skipped (its whole duration beyond the boundary)
            my $after = 0;
            for my $s (reverse @segs) {
                $after += $s->{duration} // 0;
                if ($after - ($s->{duration} // 0) > $sc->{'CAN-SKIP-UNTIL'} + $EPS) {
                    push @v, violation('skip-boundary', 'MUST', $s->{line},
                                       sprintf('%s lies %.3fs from the end, beyond the Skip Boundary %s, but was not skipped (6.2.5.1)',
                                               $s->{uri}, $after - $s->{duration}, $sc->{'CAN-SKIP-UNTIL'}));
                    last;
                }
            }
        }
    }
    # Apple's HLS Authoring Specification, where concrete
    if (@segs || @{ $pl->{open} }) {
        push @v, violation('apple-independent-segments', 'APPLE', undef, 'no EXT-X-INDEPENDENT-SEGMENTS')
            unless $pl->{independent};
        push @v, violation('apple-program-date-time', 'APPLE', undef, 'a live playlist without EXT-X-PROGRAM-DATE-TIME')
            if !$pl->{endlist} && @segs && !defined $pl->{skip} && !grep { defined $_->{pdt} } @segs;
        push @v, violation('apple-ll-blocking', 'APPLE', undef, 'parts without CAN-BLOCK-RELOAD=YES: Low-Latency HLS needs blocking reloads')
            if $has_parts && ($sc->{'CAN-BLOCK-RELOAD'} // '') ne 'YES';
    }
    return @v;
}

sub check_multivariant {
    my ($pl) = @_;
    my @v;
    push @v, violation('multivariant-empty', 'MUST', undef, 'a multivariant playlist without EXT-X-STREAM-INF')
        unless @{ $pl->{variants} };
    for my $var (@{ $pl->{variants} }) {
        my $a = $var->{attrs};
        push @v, violation('stream-inf-codecs', 'SHOULD', $var->{line}, 'EXT-X-STREAM-INF without CODECS (4.4.6.2)')
            unless defined $a->{CODECS};
        push @v, violation('apple-average-bandwidth', 'APPLE', $var->{line}, 'EXT-X-STREAM-INF without AVERAGE-BANDWIDTH')
            unless defined $a->{'AVERAGE-BANDWIDTH'};
        my $video = !defined $a->{CODECS} || unquote($a->{CODECS}) =~ /\b(?:avc[13]|hvc1|hev1|av01|vp09)\b/;
        if ($video) {
            push @v, violation('stream-inf-resolution', 'SHOULD', $var->{line}, 'video EXT-X-STREAM-INF without RESOLUTION (4.4.6.2)')
                unless defined $a->{RESOLUTION};
            push @v, violation('apple-frame-rate', 'APPLE', $var->{line}, 'video EXT-X-STREAM-INF without FRAME-RATE')
                unless defined $a->{'FRAME-RATE'};
        }
        push @v, violation('average-bandwidth-above-peak', 'MUST', $var->{line},
                           "AVERAGE-BANDWIDTH $a->{'AVERAGE-BANDWIDTH'} > BANDWIDTH $a->{BANDWIDTH} (4.4.6.2: BANDWIDTH is the peak)")
            if defined $a->{'AVERAGE-BANDWIDTH'} && defined $a->{BANDWIDTH}
               && $a->{'AVERAGE-BANDWIDTH'} =~ /^\d+$/ && $a->{BANDWIDTH} =~ /^\d+$/
               && $a->{'AVERAGE-BANDWIDTH'} > $a->{BANDWIDTH};
        push @v, violation('stream-inf-bandwidth', 'MUST', $var->{line}, 'BANDWIDTH=0')
            if ($a->{BANDWIDTH} // '') eq '0';
    }
    return @v;
}

# ---------------------------------------------------- successive reloads

sub new {
    my ($class, %o) = @_;
    return bless { state => {}, %o }, $class;
}

sub reset { $_[0]{state} = {} }

# the history key: the URL without its query (and fragment)
sub key_of {
    my ($url) = @_;
    (my $k = $url // '') =~ s/[?#].*//s;
    return $k;
}

# All violations of $text, fetched from $url, given what the earlier
# playlists of that URL said.
sub check {
    my ($self, $url, $text) = @_;
    my ($pl, @v) = parse($text);
    return @v if @v && $v[0]{rule} eq 'extm3u';
    push @v, $pl->{type} eq 'multivariant' ? check_multivariant($pl) : check_media($pl);
    return @v if $pl->{type} ne 'media';
    my $st = $self->{state}{ key_of($url) } //= { msn => {}, uri => {} };
    push @v, $self->compare($st, $pl);
    $self->remember($st, $pl);
    return @v;
}

sub compare {
    my ($self, $st, $pl) = @_;
    my @v;
    return @v unless $st->{seen};
    if (defined $pl->{target} && defined $st->{target} && $pl->{target} != $st->{target}) {
        push @v, violation('targetduration-changed', 'MUST', undef,
                           "EXT-X-TARGETDURATION changed from $st->{target} to $pl->{target} (6.2.1)");
    }
    my $seq = $pl->{sequence} // 0;
    if ($seq < $st->{sequence}) {
        push @v, violation('media-sequence-decreased', 'MUST', undef,
                           "EXT-X-MEDIA-SEQUENCE went from $st->{sequence} down to $seq (6.2.2)");
    }
    # a segment was removed: what is left must last 3 target durations
    # (6.2.2; growing at the start is fine, and so is a stream that starts
    # over, sharing no segment with the previous playlist)
    my $overlap = grep { $st->{msn}{ $_->{msn} } } @{ $pl->{segments} };
    if ($seq > $st->{sequence} && !$pl->{endlist} && !defined $pl->{skip}
        && defined $pl->{target} && $overlap) {
        my $total = 0;
        $total += $_->{duration} // 0 for @{ $pl->{segments} };
        push @v, violation('live-duration', 'MUST', undef,
                           sprintf('segments were removed (EXT-X-MEDIA-SEQUENCE %d -> %d) leaving %.3fs < 3 x TARGETDURATION %d (6.2.2)',
                                   $st->{sequence}, $seq, $total, $pl->{target}))
            if $total + $EPS < 3 * $pl->{target};
    }
    my $dseq = $pl->{dseq} // 0;
    if ($dseq < $st->{dseq}) {
        push @v, violation('discontinuity-sequence-decreased', 'MUST', undef,
                           "EXT-X-DISCONTINUITY-SEQUENCE went from $st->{dseq} down to $dseq (6.2.2)");
    }
    # a delta update: the skipped count agrees with the full playlist
    if (defined $pl->{skip} && @{ $pl->{segments} }) {
        my $first = $pl->{segments}[0];
        my $known = $st->{uri}{ $first->{uri} };
        push @v, violation('skip-count', 'MUST', $pl->{skip_line},
                           "EXT-X-SKIP:SKIPPED-SEGMENTS=$pl->{skip} puts $first->{uri} at $first->{msn}, the full playlist had it at $known (4.4.5.2)")
            if defined $known && $known != $first->{msn};
    }
    for my $s (@{ $pl->{segments} }) {
        my $old = $st->{msn}{ $s->{msn} };
        if ($old) {
            if ($old->{uri} ne $s->{uri}) {
                push @v, violation('msn-uri-changed', 'MUST', $s->{line},
                                   "Media Sequence Number $s->{msn} was $old->{uri}, now $s->{uri} (6.2.2: consistent, unique numbers)");
                next;
            }
            push @v, violation('extinf-changed', 'MUST', $s->{extinf_line},
                               "EXTINF of $s->{uri} changed from $old->{duration} to $s->{duration} (6.2.1: only appending is allowed)")
                if defined $old->{duration} && defined $s->{duration}
                   && abs($old->{duration} - $s->{duration}) > $EPS;
            push @v, violation('pdt-changed', 'MUST', $s->{pdt_line},
                               sprintf('EXT-X-PROGRAM-DATE-TIME of %s moved by %+.3fs (6.2.1)', $s->{uri}, $s->{pdt} - $old->{pdt}))
                if defined $old->{pdt} && defined $s->{pdt} && abs($old->{pdt} - $s->{pdt}) > 0.0011;
            push @v, violation('discontinuity-number-changed', 'MUST', $s->{line},
                               "$s->{uri} had Discontinuity Sequence Number $old->{dnum}, now $s->{dnum} (6.2.2)")
                if defined $old->{dnum} && !defined $pl->{skip} && $old->{dnum} != $s->{dnum};
        }
        my $was = $st->{uri}{ $s->{uri} };
        push @v, violation('uri-msn-changed', 'MUST', $s->{line},
                           "$s->{uri} was Media Sequence Number $was, now $s->{msn} (6.2.2)")
            if defined $was && $was != $s->{msn} && !($old && $old->{uri} ne $s->{uri});
    }
    # the last playlist's preload hint must come true: once this playlist
    # has moved past where the hint stood, the URI is listed as a part
    if (my $h = $st->{hint}) {
        my @parts = ((map { @{ $_->{parts} } } @{ $pl->{segments} }), @{ $pl->{open} });
        my %listed = map { ($_->{uri} // '') => 1 } @parts;
        my ($now) = grep { $_->{type} eq 'PART' } @{ $pl->{hints} };
        my $moved = $pl->{open_msn} > $h->{msn}
                    || ($pl->{open_msn} == $h->{msn} && @{ $pl->{open} } > $h->{n});
        push @v, violation('preload-hint-broken', 'MUST', $now ? $now->{line} : undef,
                           "the earlier playlist hinted $h->{uri}, this one moved past it without listing it (6.2.6: a hinted resource MUST be available; the URI MUST match the part added later, 4.4.5.3)")
            if $moved && !$listed{ $h->{uri} } && !($now && $now->{uri} eq $h->{uri})
               && (grep { $_->{msn} == $h->{msn} && @{ $_->{parts} } } @{ $pl->{segments} }, { msn => $pl->{open_msn}, parts => $pl->{open} });
    }
    return @v;
}

sub remember {
    my ($self, $st, $pl) = @_;
    $st->{seen}++;
    $st->{target} = $pl->{target} if defined $pl->{target};
    $st->{sequence} = $pl->{sequence} // 0;
    $st->{dseq} = $pl->{dseq} // 0;
    for my $s (@{ $pl->{segments} }) {
        $st->{msn}{ $s->{msn} } = { uri => $s->{uri}, duration => $s->{duration},
                                    pdt => $s->{pdt}, dnum => defined $pl->{skip} ? undef : $s->{dnum} };
        $st->{uri}{ $s->{uri} } = $s->{msn};
    }
    # keep the history bounded: numbers far below the window go
    my $low = ($pl->{sequence} // 0) - 64;
    for my $m (grep { $_ < $low } keys %{ $st->{msn} }) {
        my $old = delete $st->{msn}{$m};
        delete $st->{uri}{ $old->{uri} } if ($st->{uri}{ $old->{uri} } // -1) == $m;
    }
    my ($h) = grep { $_->{type} eq 'PART' } @{ $pl->{hints} };
    $st->{hint} = $h ? { uri => $h->{uri}, msn => $pl->{open_msn}, n => scalar @{ $pl->{open} } } : undef;
}

# ------------------------------------------------ the test-suite hook

# BarHls::Test (http_get, check_body) and BarHls::Http / BarHls::Fault
# call test_response() with every answer they get; every 200 answer that
# is a playlist goes through one shared checker, and each violation fails
# a test (Test::More::ok) named "playlist checker: URL: rule ...".  The
# same rule on the same URL fails once per nginx instance (a playlist
# polled 50 times would otherwise fail 50 times); the history is dropped
# when nginx's master pid changes (a restart starts the zone over).
# BAR_HLS_CHECK_PLAYLISTS=0 turns the hook off.  An END block prints how
# many playlists were checked.

our $Shared;
our %Count = (checked => 0, violations => 0, reported => 0);
# rule => why: a test file that breaks a rule on purpose says so, e.g.
#   $BarHls::Checker::Ignore{'live-duration'} = 'the zone is full on purpose';
# (BAR_HLS_CHECK_IGNORE=rule,rule does the same from the environment)
our %Ignore = map { $_ => 'BAR_HLS_CHECK_IGNORE' } split /,/, ($ENV{BAR_HLS_CHECK_IGNORE} // '');
my (%reported, $hook_pid);

sub hook_enabled { return ($ENV{BAR_HLS_CHECK_PLAYLISTS} // 1) ne '0' }

# test_response($url, $status, $body, stateless => 1): stateless for
# answers that arrived in parallel (no order to compare in)
sub test_response {
    my ($url, $status, $body, %o) = @_;
    return unless hook_enabled() && defined $body && ($status // 0) == 200
                  && $body =~ /\A(?:\xEF\xBB\xBF)?#EXTM3U/;
    my $pid = defined &BarHls::Test::nginx_master_pid
              ? eval { BarHls::Test::nginx_master_pid() } : undef;
    $Shared //= BarHls::Checker->new;
    if (($pid // '') ne ($hook_pid // '')) {
        $Shared->reset;
        %reported = ();
        $hook_pid = $pid;
    }
    $Count{checked}++;
    my @v = $o{stateless} ? check_text($body) : $Shared->check($url, $body);
    my $key = key_of($url);
    for my $v (@v) {
        next if $Ignore{ $v->{rule} };
        $Count{violations}++;
        next if $reported{"$key $v->{rule}"}++;
        $Count{reported}++;
        Test::More::ok(0, "playlist checker: $url: " . to_string($v))
            or Test::More::diag("the playlist:\n$body");
    }
    return @v;
}

# For Test::Nginx's add_response_body_check: the request line of
# response $idx (request or pipelined_requests), then test_response().
sub test_body {
    my ($block, $body, $idx) = @_;
    return unless defined $body && $body =~ /\A#EXTM3U/;
    my $req = $block->can('pipelined_requests') && $block->pipelined_requests
              ? $block->pipelined_requests->[$idx // 0] : $block->request;
    $req = $req->[$idx // 0] if ref $req eq 'ARRAY';
    $req = $$req if ref $req eq 'SCALAR';
    my ($path) = ($req // '') =~ m{^\s*(?:GET|HEAD)\s+(\S+)};
    $path //= '/' . ($block->name // 'block');
    my $url = defined &BarHls::Test::nginx_url ? BarHls::Test::nginx_url($path) : $path;
    return test_response($url, 200, $body);
}

END {
    Test::More::diag("playlist checker: $Count{checked} playlists checked, "
                     . "$Count{violations} violations ($Count{reported} reported)")
        if $Count{checked} && hook_enabled();
}

1;
