package BarHls::Mp4;

# A reading of the fMP4 boxes that H.265 needs checked, written from
# ISO/IEC 14496-12 and 14496-15, apart from the C code it tests:
#
#   video_entry($init)   the video sample entry of an init segment:
#                        { type => 'hvc1', width, height, hvcc => {...} }
#                        with hvcC's fields and arrays of NAL units
#   hvcc_codecs($hvcc)   the RFC 6381 CODECS string (14496-15 E.3)
#   first_sample_nals($fragment, $track_id)
#                        the NAL unit types of the first sample of that
#                        track in a moof+mdat fragment

use strict;
use warnings;

my %CONTAINER = map { $_ => 1 } qw(moov trak mdia minf stbl mvex moof traf);

# [type, payload offset, payload length] of the boxes in $data[$from, $to)
sub boxes {
    my ($data, $from, $to) = @_;
    my @b;
    my $pos = $from;
    while ($to - $pos >= 8) {
        my ($size, $type) = unpack 'N a4', substr($data, $pos, 8);
        my $head = 8;
        if ($size == 1) {
            last if $to - $pos < 16;
            my ($hi, $lo) = unpack 'N N', substr($data, $pos + 8, 8);
            ($size, $head) = ($hi * 4294967296 + $lo, 16);
        }
        $size = $to - $pos if $size == 0;
        last if $size < $head || $pos + $size > $to;
        push @b, [$type, $pos + $head, $size - $head];
        $pos += $size;
    }
    return @b;
}

# the first box at a path such as "moov trak mdia minf stbl stsd"
sub find {
    my ($data, $from, $to, @path) = @_;
    my $want = shift @path;
    for my $b (boxes($data, $from, $to)) {
        next unless $b->[0] eq $want;
        return $b unless @path;
        return find($data, $b->[1], $b->[1] + $b->[2], @path);
    }
    return;
}

sub video_entry {
    my ($init) = @_;
    for my $trak (grep { $_->[0] eq 'trak' } map { boxes($init, $_->[1], $_->[1] + $_->[2]) }
                  grep { $_->[0] eq 'moov' } boxes($init, 0, length $init)) {
        my $end = $trak->[1] + $trak->[2];
        my $hdlr = find($init, $trak->[1], $end, qw(mdia hdlr)) or next;
        next unless substr($init, $hdlr->[1] + 8, 4) eq 'vide';
        my $stsd = find($init, $trak->[1], $end, qw(mdia minf stbl stsd)) or return;
        # full box (4) and entry_count (4), then the sample entry
        my ($entry) = boxes($init, $stsd->[1] + 8, $stsd->[1] + $stsd->[2]) or return;
        my ($type, $pos, $len) = @$entry;
        return unless $len >= 78;
        my ($w, $h) = unpack 'n n', substr($init, $pos + 24, 4);
        my %e = (type => $type, width => $w, height => $h);
        # VisualSampleEntry: 78 bytes of fields, then its boxes
        for my $b (boxes($init, $pos + 78, $pos + $len)) {
            $e{hvcc} = hvcc(substr($init, $b->[1], $b->[2])) if $b->[0] eq 'hvcC';
            $e{avcc} = substr($init, $b->[1], $b->[2]) if $b->[0] eq 'avcC';
        }
        return \%e;
    }
    return;
}

# HEVCDecoderConfigurationRecord (14496-15 8.3.3.1)
sub hvcc {
    my ($d) = @_;
    return { error => 'shorter than 23 bytes' } if length $d < 23;
    my @b = unpack 'C23', $d;
    my %h = (version => $b[0], profile_space => $b[1] >> 6,
             tier => ($b[1] >> 5) & 1, profile_idc => $b[1] & 0x1f,
             compat => unpack('N', substr($d, 2, 4)),
             constraints => [@b[6 .. 11]], level => $b[12],
             chroma_format => $b[16] & 3, bit_depth_luma => ($b[17] & 7) + 8,
             length_size => ($b[21] & 3) + 1, arrays => []);
    my $pos = 23;
    for (1 .. $b[22]) {
        return { %h, error => 'array past the end' } if length($d) - $pos < 3;
        my ($t, $n) = unpack 'C n', substr($d, $pos, 3);
        $pos += 3;
        my @nalus;
        for (1 .. $n) {
            return { %h, error => 'NAL unit past the end' } if length($d) - $pos < 2;
            my $len = unpack 'n', substr($d, $pos, 2);
            return { %h, error => 'NAL unit past the end' } if length($d) - $pos - 2 < $len;
            push @nalus, substr($d, $pos + 2, $len);
            $pos += 2 + $len;
        }
        push @{ $h{arrays} }, { type => $t & 0x3f, complete => $t >> 7,
                                nalus => \@nalus };
    }
    $h{trailing} = length($d) - $pos;
    return \%h;
}

sub hvcc_codecs {
    my ($h) = @_;
    my $rev = 0;
    $rev |= (($h->{compat} >> $_) & 1) << (31 - $_) for 0 .. 31;
    my @c = @{ $h->{constraints} };
    pop @c while @c > 1 && $c[-1] == 0;
    return sprintf 'hvc1.%s%d.%X.%s%d%s',
        ('', 'A', 'B', 'C')[$h->{profile_space}], $h->{profile_idc}, $rev,
        $h->{tier} ? 'H' : 'L', $h->{level}, join '', map { sprintf '.%X', $_ } @c;
}

# NAL unit types of the first sample of $track in a fragment (4-byte
# lengths, data offsets from the moof: default-base-is-moof)
sub first_sample_nals {
    my ($frag, $track) = @_;
    for my $moof (grep { $_->[0] eq 'moof' } boxes($frag, 0, length $frag)) {
        my $moof_start = $moof->[1] - 8;
        for my $traf (grep { $_->[0] eq 'traf' } boxes($frag, $moof->[1], $moof->[1] + $moof->[2])) {
            my $tend = $traf->[1] + $traf->[2];
            my $tfhd = find($frag, $traf->[1], $tend, 'tfhd') or next;
            my ($tflags, $id) = unpack 'N N', substr($frag, $tfhd->[1], 8);
            next unless $id == $track;
            my $p = $tfhd->[1] + 8;
            $p += 8 if $tflags & 0x1;
            $p += 4 if $tflags & 0x2;
            $p += 4 if $tflags & 0x8;
            my $default_size = $tflags & 0x10 ? unpack('N', substr($frag, $p, 4)) : undef;
            my $trun = find($frag, $traf->[1], $tend, 'trun') or return;
            my ($rflags, $n) = unpack 'N N', substr($frag, $trun->[1], 8);
            $rflags &= 0xffffff;
            return unless $n && $rflags & 0x1;
            my $q = $trun->[1] + 8;
            my $offset = unpack 'l>', substr($frag, $q, 4);
            $q += 4;
            $q += 4 if $rflags & 0x4;
            $q += 4 if $rflags & 0x100;
            my $size = $rflags & 0x200 ? unpack('N', substr($frag, $q, 4)) : $default_size;
            return unless defined $size;
            my ($s, $end, @types) = ($moof_start + $offset);
            $end = $s + $size;
            return if $end > length $frag;
            while ($end - $s >= 5) {
                my $len = unpack 'N', substr($frag, $s, 4);
                push @types, (unpack('C', substr($frag, $s + 4, 1)) >> 1) & 0x3f;
                $s += 4 + $len;
            }
            return @types;
        }
    }
    return;
}

1;
