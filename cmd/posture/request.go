package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/posture/posture/requests"
)

// RequestCmd groups the exemption request subcommands.
type RequestCmd struct {
	Create   RequestCreateCmd   `cmd:"" help:"Ask for an exemption (for those who may read a resource but not exempt it)."`
	Show     RequestShowCmd     `cmd:"" help:"Show a request, with the delivery state of its notices."`
	List     RequestListCmd     `cmd:"" help:"List the requests at or under a scope."`
	Approve  RequestApproveCmd  `cmd:"" help:"Approve a request: its exemptions are created at once."`
	Reject   RequestRejectCmd   `cmd:"" help:"Reject a request with a reason."`
	Withdraw RequestWithdrawCmd `cmd:"" help:"Withdraw your own pending request."`
}

// requestTarget names one request.
type requestTarget struct {
	ClientFlags
	Data  string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Scope string `required:"" help:"Scope the request lives at: a management group, subscription, resource group or resource id."`
	Name  string `short:"n" required:"" help:"Request name."`
}

func (t *requestTarget) path(suffix string) string {
	return strings.TrimSuffix(t.Scope, "/") + "/providers/" + requests.Type + "/" + url.PathEscape(t.Name) + suffix
}

func (t *requestTarget) do(ctx context.Context, method, suffix string, body any) (json.RawMessage, error) {
	cl, err := t.client(t.Data)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	_, err = cl.Do(ctx, method, t.path(suffix), requests.APIVersion, nil, body, &out)
	return out, err
}

// RequestCreateCmd is `posture request create`.
type RequestCreateCmd struct {
	requestTarget
	Recommendation string   `short:"k" help:"Assessment key of the recommendation (exempted through each subscription's SecurityCenterBuiltIn assignment)." xor:"what" required:""`
	Assignment     string   `short:"a" help:"Policy assignment id, instead of a recommendation." xor:"what" required:""`
	References     []string `short:"r" help:"policyDefinitionReferenceIds within the assignment (with --assignment)."`
	Resources      []string `help:"Resource ids to exempt (default: the whole scope)."`
	Category       string   `short:"e" required:"" enum:"Waiver,Mitigated,waiver,mitigated" help:"Waiver (risk accepted) or Mitigated (handled another way)."`
	Justification  string   `short:"j" required:"" help:"Why the exemption is needed."`
	ExpiresOn      string   `help:"Wanted expiry, RFC 3339 or a duration from now (e.g. 720h)."`
	Ticket         string   `help:"A ticket or change reference."`
	OutputFlags
}

func (c *RequestCreateCmd) Run(ctx context.Context, streams *IO) error {
	props := map[string]any{"exemptionCategory": c.Category, "justification": c.Justification}
	for k, v := range map[string]string{"assessmentKey": c.Recommendation, "policyAssignmentId": c.Assignment, "ticketRef": c.Ticket} {
		if v != "" {
			props[k] = v
		}
	}
	if len(c.References) > 0 {
		props["policyDefinitionReferenceIds"] = c.References
	}
	if len(c.Resources) > 0 {
		props["resourceIds"] = c.Resources
	}
	if c.ExpiresOn != "" {
		exp, err := parseExpiry(c.ExpiresOn, time.Now())
		if err != nil {
			return err
		}
		props["expiresOn"] = exp
	}
	out, err := c.do(ctx, "PUT", "", map[string]any{"properties": props})
	if err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// RequestShowCmd is `posture request show`.
type RequestShowCmd struct {
	requestTarget
	OutputFlags
}

func (c *RequestShowCmd) Run(ctx context.Context, streams *IO) error {
	out, err := c.do(ctx, "GET", "", nil)
	if err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// RequestListCmd is `posture request list`.
type RequestListCmd struct {
	ClientFlags
	Data   string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Scope  string `required:"" help:"List the requests at or under this scope."`
	Status string `enum:",Pending,Approved,Rejected,Withdrawn,Expired" default:"" help:"Only requests in this status."`
	OutputFlags
}

func (c *RequestListCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	filter := ""
	if c.Status != "" {
		filter = "status eq '" + c.Status + "'"
	}
	all, err := listAll(ctx, cl, strings.TrimSuffix(c.Scope, "/")+"/providers/"+requests.Type, requests.APIVersion, filter,
		newProgress(streams.Err, "listing").unit("requests"))
	if err != nil {
		return err
	}
	v := view{Data: all, Columns: []string{"status", "requested", "by", "recommendation", "resources", "id"}}
	for _, raw := range all {
		var r struct {
			ID         string            `json:"id"`
			Properties *requests.Request `json:"properties"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		p := r.Properties
		if p == nil {
			continue
		}
		what := p.RecommendationDisplayName
		if what == "" {
			what = p.PolicyAssignmentID
		}
		n := len(p.ResourceIDs)
		res := fmt.Sprint(n)
		if n == 0 {
			res = "scope"
		}
		v.Rows = append(v.Rows, []any{p.Status, p.RequestedAt.Format(time.DateTime), p.RequestedBy.Label(), what, res, r.ID})
	}
	return c.print(streams.Out, formatTable, v)
}

// RequestApproveCmd is `posture request approve`.
type RequestApproveCmd struct {
	requestTarget
	Reason string `help:"A comment for the requester."`
	OutputFlags
}

func (c *RequestApproveCmd) Run(ctx context.Context, streams *IO) error {
	out, err := c.do(ctx, "POST", "/approve", map[string]string{"reason": c.Reason})
	if err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// RequestRejectCmd is `posture request reject`.
type RequestRejectCmd struct {
	requestTarget
	Reason string `required:"" help:"Why the request is rejected."`
	OutputFlags
}

func (c *RequestRejectCmd) Run(ctx context.Context, streams *IO) error {
	out, err := c.do(ctx, "POST", "/reject", map[string]string{"reason": c.Reason})
	if err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// RequestWithdrawCmd is `posture request withdraw`.
type RequestWithdrawCmd struct {
	requestTarget
	OutputFlags
}

func (c *RequestWithdrawCmd) Run(ctx context.Context, streams *IO) error {
	out, err := c.do(ctx, "POST", "/withdraw", nil)
	if err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}
