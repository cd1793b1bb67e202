"""Prints the TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32 secret at a UNIX time, computed by pyotp,
an implementation independent of storedesk's. Usage: totp_code.py SECRET UNIX_TIME"""
import sys

import pyotp

print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))
