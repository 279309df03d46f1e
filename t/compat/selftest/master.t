# Self-test of master_on()/workers(), check_accum_error_log() and exact test
# counting (also passes under upstream).
use Test::Nginx::Socket;

master_on();
workers(2);
env_to_nginx('TEST_NGINX_SELFTEST_BAZ=1');
log_level('info');
check_accum_error_log();
repeat_each(2);

plan tests => repeat_each() * 4 * blocks();

run_tests();

__DATA__

=== TEST 1: served by a worker process
--- config
    location = /t {
        return 200 "pid $pid\n";
    }
--- request
GET /t
--- response_body_like: ^pid \d+$
--- no_error_log
[error]
[alert]



=== TEST 2: accumulated error log
--- main_config
env TEST_NGINX_SELFTEST_FOO=bar;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
Content-Length: 3
--- response_body
ok
--- error_log
start worker process
