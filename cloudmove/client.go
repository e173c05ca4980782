package cloudmove

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// EC2 is the part of the EC2 API cloudmove calls; *ec2.Client implements
// it. Tests of the retry logic alone substitute a fake.
type EC2 interface {
	DescribeNetworkInterfaces(context.Context, *ec2.DescribeNetworkInterfacesInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	AssignPrivateIpAddresses(context.Context, *ec2.AssignPrivateIpAddressesInput, ...func(*ec2.Options)) (*ec2.AssignPrivateIpAddressesOutput, error)
	DescribeAddresses(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
	AssociateAddress(context.Context, *ec2.AssociateAddressInput, ...func(*ec2.Options)) (*ec2.AssociateAddressOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeRouteTables(context.Context, *ec2.DescribeRouteTablesInput, ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	ReplaceRoute(context.Context, *ec2.ReplaceRouteInput, ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error)
	CreateRoute(context.Context, *ec2.CreateRouteInput, ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	DescribeVolumes(context.Context, *ec2.DescribeVolumesInput, ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	AttachVolume(context.Context, *ec2.AttachVolumeInput, ...func(*ec2.Options)) (*ec2.AttachVolumeOutput, error)
	DetachVolume(context.Context, *ec2.DetachVolumeInput, ...func(*ec2.Options)) (*ec2.DetachVolumeOutput, error)
}

var _ EC2 = (*ec2.Client)(nil)

// roleFirst is a credentials provider that asks the instance role
// (instance metadata) first and falls back to the SDK's default chain
// (environment, shared files, ...): on EC2 the role is the expected
// source, and asking it first spares the other lookups.
type roleFirst struct {
	role, rest aws.CredentialsProvider
}

func (r roleFirst) Retrieve(ctx context.Context) (aws.Credentials, error) {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	creds, err := r.role.Retrieve(rctx)
	cancel()
	if err == nil {
		return creds, nil
	}
	if r.rest == nil {
		return aws.Credentials{}, err
	}
	creds, err2 := r.rest.Retrieve(ctx)
	if err2 != nil {
		return aws.Credentials{}, errors.Join(fmt.Errorf("instance role: %w", err), err2)
	}
	return creds, nil
}

// newEC2 builds the EC2 client: region, endpoint override, credentials
// (opts.Credentials, else the instance role first, then the default
// chain). The SDK's own retries are off: the retry loop here decides, and
// it looks before it repeats a mutating call.
func newEC2(ctx context.Context, region, endpoint, imdsEndpoint string, creds aws.CredentialsProvider, hc *http.Client) (*ec2.Client, error) {
	lo := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(region),
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if imdsEndpoint != "" {
		lo = append(lo, awsconfig.WithEC2IMDSEndpoint(imdsEndpoint))
	}
	if hc != nil {
		lo = append(lo, awsconfig.WithHTTPClient(hc))
	}
	if creds != nil {
		lo = append(lo, awsconfig.WithCredentialsProvider(creds))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if creds == nil {
		role := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = newIMDS(imdsEndpoint) })
		cfg.Credentials = aws.NewCredentialsCache(roleFirst{role: role, rest: cfg.Credentials})
	}
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
