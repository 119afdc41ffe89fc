#!/usr/bin/env python3
"""Prints each failed test of a .trx file: its name, the first lines of its message, and the test's own frames of the stack."""
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
MESSAGE_LINES = 12

for result in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult[@outcome='Failed']", NS):
    print(f"failed: {result.get('testName')}")
    message = result.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=NS)
    for line in message.strip().splitlines()[:MESSAGE_LINES]:
        print(f"    {line}")
    stack = result.findtext("t:Output/t:ErrorInfo/t:StackTrace", default="", namespaces=NS)
    for line in stack.splitlines():
        if "PatroniAgent.Tests" in line and ".cs:line " in line:
            print(f"    {line.strip()}")
