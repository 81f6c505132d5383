#!/usr/bin/perl
# A legacy CGI script in Perl (core modules only; CGI.pm left the core in
# 5.22): an HTML table of its CGI environment, and the fields of a POSTed
# form or of the query string.
use strict;
use warnings;

sub escape_html {
    my ($text) = @_;
    $text =~ s/&/&amp;/g;
    $text =~ s/</&lt;/g;
    $text =~ s/>/&gt;/g;
    $text =~ s/"/&quot;/g;
    return $text;
}

sub decode_form {
    my ($data) = @_;
    my @fields;
    for my $pair (split /[&;]/, $data) {
        next if $pair eq '';
        my ($name, $value) = split /=/, $pair, 2;
        for ($name, $value) {
            $_ = '' unless defined $_;
            tr/+/ /;
            s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
        }
        push @fields, [$name, $value];
    }
    return @fields;
}

my $method = $ENV{REQUEST_METHOD} || 'GET';
my $body = '';
if ($method eq 'POST') {
    # RFC 3875 §4.2: read exactly CONTENT_LENGTH bytes.
    my $length = $ENV{CONTENT_LENGTH} || 0;
    binmode STDIN;
    while (length($body) < $length) {
        my $read = read(STDIN, $body, $length - length($body), length($body));
        last unless $read;
    }
}
my @fields = decode_form($method eq 'POST' ? $body : ($ENV{QUERY_STRING} || ''));

my $self = escape_html($ENV{SCRIPT_NAME} || '');
print "Content-Type: text/html; charset=utf-8\r\n\r\n";
print <<"HTML";
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>env.pl</title></head>
<body>
<h1>Hello from Perl $^V</h1>
<form method="post" action="$self"><input name="greeting" value="hi"> <button>POST it</button></form>
<h2>Form fields ($method)</h2>
<ul>
HTML
printf "<li><b>%s</b> = %s</li>\n", escape_html($_->[0]), escape_html($_->[1]) for @fields;
print "</ul>\n<h2>Environment</h2>\n<table>\n";
for my $key (sort keys %ENV) {
    printf "<tr><th align=\"left\">%s</th><td><code>%s</code></td></tr>\n", escape_html($key), escape_html($ENV{$key});
}
print "</table>\n</body></html>\n";
