# Not an nginx test (no Test::Nginx blocks): run-tests proves it beside t/*.t.
# conf/docker-compose.yml is a valid Compose file: `docker compose config`
# accepts it with the two variables it needs set (dummy values), refuses
# it without them, and it publishes no host port.  Skipped when this
# machine's docker has no compose plugin (v2: the file uses the top-level
# "name" of the Compose Specification); needs no daemon.
use strict;
use warnings;

use File::Temp ();
use IPC::Run ();
use Test::More;

my $Root = do {
    require Cwd;
    require File::Basename;
    Cwd::abs_path(File::Basename::dirname(__FILE__) . '/../..');
};
my $File = "$Root/conf/docker-compose.yml";

sub run {
    my ($cmd, %env) = @_;
    my ($out, $err) = ('', '');
    local %ENV = %ENV;
    delete @ENV{qw(CAM_ALE TUNNEL_TOKEN COMPOSE_FILE COMPOSE_PROJECT_NAME DOCKER_HOST)};
    @ENV{keys %env} = values %env;
    my $ok = eval {
        IPC::Run::run($cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(60));
        1;
    };
    return (-1, $out, "$err$@") unless $ok;
    return ($? >> 8, $out, $err);
}

my @compose = ('docker', 'compose');
my ($has) = eval { run([@compose, 'version']) };
plan skip_all => 'no `docker compose` (docker client without the compose plugin)'
    unless defined $has && $has == 0;
plan skip_all => "no $File" unless -f $File;

my $dir = File::Temp::tempdir('bar-hls-compose-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $empty = "$dir/empty.env";
open my $fh, '>', $empty or die "$empty: $!";
close $fh;

# the variables, from the environment (an empty --env-file: no .env read)
my ($rc, $out, $err) = run([@compose, '-f', $File, '--env-file', $empty, 'config'],
                           CAM_ALE => 'rtsp://user:dummy@127.0.0.1:554/stream1',
                           TUNNEL_TOKEN => 'dummy-token');
is($rc, 0, "@compose config: exit 0 with CAM_ALE and TUNNEL_TOKEN set") or diag($err);
like($out, qr/^\s*nginx:\s*$/m, 'a service nginx');
like($out, qr/^\s*cloudflared:\s*$/m, 'a service cloudflared');
like($out, qr/dummy-token/, 'TUNNEL_TOKEN reaches cloudflared');
like($out, qr{rtsp://user:dummy\@127\.0\.0\.1:554/stream1}, 'CAM_ALE reaches nginx');
unlike($out, qr/^\s*(?:ports|published):/m, 'no host port is published');

# and refused without them
($rc, $out, $err) = run([@compose, '-f', $File, '--env-file', $empty, 'config']);
isnt($rc, 0, "@compose config: fails without the variables");
like($err, qr/CAM_ALE|TUNNEL_TOKEN/, 'it names the missing variable');

done_testing();
