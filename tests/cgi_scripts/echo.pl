#!/usr/bin/perl
# Echoes the request body, reading exactly CONTENT_LENGTH bytes.
binmode STDIN; binmode STDOUT;
my $length = $ENV{CONTENT_LENGTH} || 0;
my $body = '';
while (length($body) < $length) {
    my $n = read(STDIN, my $chunk, $length - length($body));
    last unless $n;
    $body .= $chunk;
}
print "Content-Type: application/octet-stream\r\n";
print "X-Method: $ENV{REQUEST_METHOD}\r\n\r\n";
print $body;
