#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildTickrApp } from '../lib/tickr-app';

buildTickrApp(new App());
