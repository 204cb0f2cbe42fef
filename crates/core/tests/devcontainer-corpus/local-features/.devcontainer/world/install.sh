#!/bin/sh
echo world
